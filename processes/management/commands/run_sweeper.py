"""`manage.py run_sweeper`: the sweeper as a process of its own (processes.sweeper_process).

`run_workers` runs the same loop in a child it forks beside its cluster; run this by hand only
beside a bare `qcluster`.
"""

import signal
import threading

from django.core.management.base import BaseCommand

from processes.sweeper_process import SweeperProcess, set_title


class Command(BaseCommand):
    help = (
        "Sweep every PROCESSES['SWEEP_INTERVAL'] while holding the sweeper's lease (one sweeper "
        "across all machines); SIGTERM stops it after the sweep in progress."
    )

    def handle(self, *args, **options):
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        SweeperProcess(stopping=stopping, title=set_title).run()
