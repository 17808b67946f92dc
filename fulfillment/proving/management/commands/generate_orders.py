import time

from django.core.management.base import BaseCommand, CommandError

from fulfillment.proving.generation import orders_generate
from fulfillment.proving.return_generation import returns_generate


class Command(BaseCommand):
    help = (
        "Fill the database with many generated orders in every state, and returns of a share of "
        "the completed ones (for scale measurements)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="How many orders (1 to 10,000,000).")
        parser.add_argument("--batch", type=int, default=50_000, help="Orders per transaction.")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--returns",
            type=float,
            default=0.05,
            help="Share of the completed orders returned, one return each (0 to 1; default 0.05).",
        )

    def handle(self, *args, count, batch, seed, returns, **options):
        if not 1 <= count <= 10_000_000:
            raise CommandError(f"--count must be between 1 and 10000000, not {count}.")
        if not 100 <= batch <= 500_000:
            raise CommandError(f"--batch must be between 100 and 500000, not {batch}.")
        if not 0 <= returns <= 1:
            raise CommandError(f"--returns must be a share between 0 and 1, not {returns}.")
        started = time.monotonic()
        written = orders_generate(count=count, seed=seed, batch=batch)
        returned = returns_generate(share=returns, seed=seed, batch=batch)
        elapsed = time.monotonic() - started
        self.stdout.write(
            f"Wrote {written.orders} orders, {written.lines} lines and {written.events} journal events, "
            f"and {returned} returns, in {elapsed:.1f}s ({written.orders / elapsed:,.0f} orders/s)."
        )
