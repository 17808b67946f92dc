from django.apps import AppConfig


class ProcessesConfig(AppConfig):
    name = "processes"
    verbose_name = "Processes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_save
        from django_fsm.signals import post_transition

        from processes import checks  # noqa: F401  (registers the system checks)
        from processes.journal import on_post_save, on_post_transition

        post_transition.connect(on_post_transition, dispatch_uid="processes.journal")
        post_save.connect(on_post_save, dispatch_uid="processes.journal.save")

        from django_q.signals import post_spawn

        from processes.sweeper import on_worker_spawn

        post_spawn.connect(on_worker_spawn, dispatch_uid="processes.sweeper")

        from django_q.signals import post_execute, pre_execute

        from processes.worker_heartbeat import on_task_finished, on_task_started

        pre_execute.connect(on_task_started, dispatch_uid="processes.heartbeat.started")
        post_execute.connect(on_task_finished, dispatch_uid="processes.heartbeat.finished")

        from django_q.signals import post_execute_in_worker

        from processes.worker_connections import on_task_ended, on_task_starting

        pre_execute.connect(on_task_starting, dispatch_uid="processes.connections.starting")
        post_execute_in_worker.connect(on_task_ended, dispatch_uid="processes.connections.ended")
