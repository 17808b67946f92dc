"""Check what must hold of every order, against the external services' own ledgers."""

import json

from django.core.management.base import BaseCommand, CommandError

from fulfillment.models import Order, Return
from fulfillment.proving.invariants import (
    INVARIANTS,
    default_grace,
    invariants_check,
    orders_in_flight,
    results_as_json,
    results_as_lines,
)


class Command(BaseCommand):
    help = (
        "Check the whole database: nothing stuck, money, stock, labels, mail and journal agree. "
        "Prints each invariant with its count of violations; exits 1 when any is violated."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the result as JSON.")
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help="Seconds due work may be late before it counts as stuck (default: REDELIVER_AFTER "
            "plus ten sweeps plus the lease grace).",
        )

    def handle(self, *args, as_json: bool = False, grace: float | None = None, **options):
        if grace is not None and grace < 0:
            raise CommandError(f"--grace must be 0 or more seconds, not {grace}.")
        grace = default_grace() if grace is None else grace
        results = invariants_check(grace=grace)
        violated = [name for name, ids in results.items() if ids]
        figures = {
            "orders": Order.objects.count(),
            "in_flight": orders_in_flight().count(),
            "returns": Return.objects.count(),
            "returns_in_flight": orders_in_flight(Return.objects.all()).count(),
            "grace": grace,
        }
        if as_json:
            report = {**figures, "ok": not violated, "invariants": results_as_json(results)}
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        else:
            self.stdout.write(
                f"{figures['orders']} orders, {figures['in_flight']} in flight; "
                f"{figures['returns']} returns, {figures['returns_in_flight']} in flight; due work may be "
                f"{grace:g}s late before it counts as stuck."
            )
            self.stdout.write("\n".join(results_as_lines(results)))
        if violated:
            raise CommandError(
                f"{len(violated)} of {len(INVARIANTS)} invariants violated: {', '.join(violated)}"
            )
        if not as_json:
            self.stdout.write(self.style.SUCCESS(f"All {len(INVARIANTS)} invariants hold."))
