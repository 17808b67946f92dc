"""Install (or update) the django-q2 Schedule that keeps the sweeper loop task alive, and start it.

The loop task is the sweeper of a bare `qcluster`; under `run_workers` the sweeper is a process
beside the cluster (processes.sweeper_process), and a loop task the schedule fires ends at once.
"""

from django.core.management.base import BaseCommand
from django_q.models import Schedule
from django_q.tasks import async_task

from processes.sweeper import LOOP_TASK

SCHEDULE_NAME = "processes: sweeper loop"


class Command(BaseCommand):
    help = "Install the sweeper's schedule (idempotent) and enqueue one sweeper loop."

    def add_arguments(self, parser):
        parser.add_argument("--no-start", action="store_true", help="Only install the schedule.")

    def handle(self, *args, no_start=False, **options):
        schedule, created = Schedule.objects.update_or_create(
            name=SCHEDULE_NAME,
            defaults={"func": LOOP_TASK, "schedule_type": Schedule.MINUTES, "minutes": 1, "repeats": -1},
        )
        self.stdout.write(
            f"{'Installed' if created else 'Updated'} schedule {schedule.name!r} (every minute)."
        )
        if not no_start:
            async_task(LOOP_TASK, task_name="sweeper loop")
            self.stdout.write("Enqueued a sweeper loop; it starts with the first worker.")
