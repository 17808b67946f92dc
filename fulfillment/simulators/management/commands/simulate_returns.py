"""Stand in for the carrier and the warehouse's inspectors of returns (`make run`)."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fulfillment.simulators.returns import simulated_carrier_run, simulated_inspector_run


class Command(BaseCommand):
    help = (
        "Deliver the parcels of returns once their label is --carrier-delay seconds old and accept "
        "every line of inspections open for --inspector-delay seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--carrier-delay", type=float, default=None, help="Seconds (default SIMULATED_CARRIER_DELAY)."
        )
        parser.add_argument(
            "--inspector-delay",
            type=float,
            default=None,
            help="Seconds (default SIMULATED_INSPECTOR_DELAY).",
        )
        parser.add_argument("--once", action="store_true", help="Do what is due now and exit.")

    def handle(self, *args, carrier_delay=None, inspector_delay=None, once=False, **options):
        carrier = settings.SIMULATED_CARRIER_DELAY if carrier_delay is None else carrier_delay
        inspector = settings.SIMULATED_INSPECTOR_DELAY if inspector_delay is None else inspector_delay
        if carrier is None and inspector is None:
            self.stdout.write("Simulated carrier and inspector are off (SIMULATED_RETURNS=0).")
            return
        for name, delay in (("--carrier-delay", carrier), ("--inspector-delay", inspector)):
            if delay is not None and delay < 0:
                raise CommandError(f"{name} must be 0 or more seconds, not {delay:g}.")
        doing = f"{_doing('carrier', carrier)}; {_doing('inspector', inspector)}"
        self.stdout.write(f"Simulated returns: {doing}.")
        while True:
            if carrier is not None and (done := simulated_carrier_run(delay=carrier)):
                self.stdout.write(f"delivered {done} return parcel(s)")
            if inspector is not None and (done := simulated_inspector_run(delay=inspector)):
                self.stdout.write(f"inspected {done} return(s)")
            if once:
                return
            time.sleep(1)


def _doing(who: str, delay: float | None) -> str:
    if delay is None:
        return f"the {who} is off"
    action = "delivers parcels" if who == "carrier" else "accepts inspections"
    return f"the {who} {action} after {delay:g}s"
