"""`manage.py run_workers`: django-q2's `qcluster`, supervised (processes.worker_supervisor)."""

from django.core.management.base import BaseCommand

from processes.worker_supervisor import Supervisor


class Command(BaseCommand):
    help = (
        "Run a django-q2 cluster and replace it when it wedges or exits; SIGTERM stops it "
        "within PROCESSES['WORKER_STOP_GRACE'] seconds."
    )

    def handle(self, *args, **options):
        Supervisor(argv=["qcluster"], out=self.stdout).run()
