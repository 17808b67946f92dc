import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fulfillment.simulators.picker import simulated_picker_run


class Command(BaseCommand):
    help = "Stand in for warehouse workers: confirm pick tasks once they are --delay seconds old."

    def add_arguments(self, parser):
        parser.add_argument(
            "--delay", type=float, default=None, help="Seconds (default SIMULATED_PICKER_DELAY)."
        )
        parser.add_argument("--once", action="store_true", help="Confirm what is due now and exit.")

    def handle(self, *args, delay=None, once=False, **options):
        delay = settings.SIMULATED_PICKER_DELAY if delay is None else delay
        if delay is None:
            self.stdout.write("Simulated picker is off (SIMULATED_PICKER=0).")
            return
        if delay < 0:
            raise CommandError(f"--delay must be 0 or more seconds, not {delay}.")
        self.stdout.write(f"Simulated picker confirms pick tasks after {delay:g}s.")
        while True:
            done = simulated_picker_run(delay=delay)
            if done:
                self.stdout.write(f"picked {done} order(s)")
            if once:
                return
            time.sleep(1)
