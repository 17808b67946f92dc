"""`manage.py run_sweeper`: the sweeper as a process of its own (processes.sweeper_process).

`run_workers` starts it beside its cluster; run it by hand only beside a bare `qcluster`.
"""

import signal
import threading

from django.core.management.base import BaseCommand

from processes.sweeper_process import SweeperProcess

# The title `ps` and processes.cluster_processes read: "sweeper <state>".
TITLE = "sweeper"


class Command(BaseCommand):
    help = (
        "Sweep every PROCESSES['SWEEP_INTERVAL'] while holding the sweeper's lease (one sweeper "
        "across all machines); SIGTERM stops it after the sweep in progress."
    )

    def handle(self, *args, **options):
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        SweeperProcess(stopping=stopping, title=_title).run()


def _title(state: str) -> None:
    try:
        from setproctitle import setproctitle
    except ImportError:  # django-q2 names its processes with it when it is there; so do we
        return
    setproctitle(f"{TITLE} {state}")
