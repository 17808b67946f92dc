"""Run the web server, the django-q2 workers, the simulated picker and the returns' simulated
carrier and inspector together (`make run`)."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the site with its workers in one command; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1:8000", help="host:port for the web server.")
        parser.add_argument("--no-picker", action="store_true", help="Do not run the simulated picker.")
        parser.add_argument(
            "--no-returns", action="store_true", help="No simulated carrier and inspector of returns."
        )

    def handle(self, *args, addr, no_picker, no_returns, **options):
        host, _, port = addr.rpartition(":")
        if not host or not port.isdigit():
            raise CommandError(f"--addr must look like 127.0.0.1:8000, not {addr!r}.")
        commands = {
            "web": ["runserver", addr, "--noreload"],
            "workers": ["run_workers"],
        }
        if not no_picker and settings.SIMULATED_PICKER_DELAY is not None:
            commands["picker"] = ["simulate_picker"]
        returns_on = (settings.SIMULATED_CARRIER_DELAY, settings.SIMULATED_INSPECTOR_DELAY) != (None, None)
        if not no_returns and returns_on:
            commands["returns"] = ["simulate_returns"]
        children = {name: self._spawn(argv) for name, argv in commands.items()}
        stopping = []
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stopping.append(True))
        self.stdout.write(f"Serving http://{addr}/ (admin at /admin/) with workers; Ctrl-C stops everything.")
        try:
            while not stopping:
                dead = [name for name, child in children.items() if child.poll() is not None]
                if dead:
                    raise CommandError(f"{', '.join(dead)} stopped unexpectedly; stopping the rest.")
                time.sleep(0.5)
        finally:
            self._stop(children)

    def _spawn(self, argv):
        # Each child in its own session: Ctrl-C reaches us only, and we stop them in order.
        return subprocess.Popen(
            [sys.executable, "manage.py", *argv], cwd=settings.BASE_DIR, start_new_session=True
        )

    def _stop(self, children):
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        # Longer than run_workers' own grace (WORKER_STOP_GRACE), so it stops its cluster first.
        deadline = time.monotonic() + 30
        for name, child in children.items():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.stderr.write(f"{name} did not stop in time; killing it (the engine recovers its work).")
                os.killpg(child.pid, signal.SIGKILL)  # its session: the workers' cluster too
                child.wait()
        self.stdout.write("Stopped.")
