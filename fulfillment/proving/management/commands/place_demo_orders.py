import random
import subprocess
import sys
import time
from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_q.tasks import async_task

from fulfillment.models import Order, OrderState, Return
from fulfillment.ordering import LineRequest, order_place
from fulfillment.proving.demo import CATALOGUE
from fulfillment.proving.demo_returns import demo_returns_advance, demo_returns_open, demo_returns_request
from fulfillment.simulators.picker import simulated_picker_run
from processes.journal import Actor
from processes.models.journal import ProcessEvent
from processes.sweeper import LOOP_TASK

TOKENS = ["tok_ok"] * 16 + ["tok_flaky"] * 3 + ["tok_declined"]
ADDRESS = {
    "name": "Demo Customer",
    "line1": "1 Example Street",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


class Command(BaseCommand):
    help = (
        "Place demo orders, drive them to completed or cancelled with workers, request returns of a "
        "few completed ones and wait for those too, and print a summary."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=10)
        parser.add_argument("--timeout", type=float, default=300, help="Seconds to wait for the orders.")
        parser.add_argument(
            "--no-workers",
            action="store_true",
            help="Do not start a qcluster here (one is already running, e.g. make run).",
        )
        parser.add_argument(
            "--returns", type=int, default=3, help="Returns to request, one per completed order (0: none)."
        )
        parser.add_argument("--seed", type=int, default=None)

    def handle(self, *args, count, timeout, no_workers, returns, seed, **options):
        if not 1 <= count <= 100_000:
            raise CommandError(f"--count must be between 1 and 100000, not {count}.")
        if returns < 0:
            raise CommandError(f"--returns must be 0 or more, not {returns}.")
        if timeout <= 0:
            raise CommandError(f"--timeout must be positive, not {timeout}.")
        rng = random.Random(seed)
        cluster = None if no_workers else self._start_cluster()
        try:
            started = time.monotonic()
            ids = [self._place(rng).pk for _ in range(count)]
            self.stdout.write(f"Placed {count} orders; waiting for them to finish...")
            finished = self._wait(ids, started + timeout)
            self._summary(ids, time.monotonic() - started, finished)
            if returns:
                self._returns(ids, returns, rng, timeout)
        finally:
            if cluster:
                cluster.terminate()
                try:
                    cluster.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    cluster.kill()  # safe: the engine recovers whatever a killed worker left

    def _place(self, rng):
        lines = [
            LineRequest(sku=sku, quantity=rng.randint(1, 3))
            for sku, *_ in rng.sample(CATALOGUE, rng.randint(1, 3))
        ]
        return order_place(
            email=f"customer{rng.randint(1, 999)}@example.com",
            shipping_address=ADDRESS,
            lines=lines,
            payment_token=rng.choice(TOKENS),
            actor=Actor("client", "place_demo_orders"),
        )

    def _start_cluster(self):
        self.stdout.write("Starting a qcluster for the run (use --no-workers beside `make run`).")
        async_task(LOOP_TASK, task_name="sweeper loop")
        return subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=settings.BASE_DIR,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def _wait(self, ids, deadline) -> bool:
        delay = settings.SIMULATED_PICKER_DELAY or 0.0
        while time.monotonic() < deadline:
            simulated_picker_run(delay=delay)
            open_orders = (
                Order.objects.filter(pk__in=ids)
                .exclude(state__in=[OrderState.COMPLETED, OrderState.CANCELLED])
                .exclude(needs_attention=True)
            )
            if not open_orders.exists():
                return True
            time.sleep(0.5)
        return False

    def _returns(self, ids, count, rng, timeout):
        started = time.monotonic()
        return_ids = [ret.pk for ret in demo_returns_request(order_ids=ids, count=count, rng=rng)]
        self.stdout.write(f"Requested {len(return_ids)} returns of completed orders; waiting for them...")
        deadline = started + timeout
        while demo_returns_open(return_ids) and time.monotonic() < deadline:
            demo_returns_advance()
            time.sleep(0.5)
        returns = Return.objects.filter(pk__in=return_ids).select_related("refund")
        elapsed = time.monotonic() - started
        self.stdout.write(f"{len(return_ids)} returns in {elapsed:.1f}s:")
        for ret in returns:
            refunded = f", refunded {ret.refund.amount}" if hasattr(ret, "refund") else ""
            attention = ", needs attention" if ret.needs_attention else ""
            self.stdout.write(f"  return {ret.pk} of order {ret.order_id}: {ret.state}{refunded}{attention}")
        if demo_returns_open(return_ids):
            raise CommandError("Some returns did not finish in time; see the admin for their journal.")

    def _summary(self, ids, elapsed, finished):
        orders = Order.objects.filter(pk__in=ids)
        states = Counter(orders.values_list("state", flat=True))
        attention = orders.filter(needs_attention=True).count()
        self.stdout.write(f"{len(ids)} orders in {elapsed:.1f}s{'' if finished else ' (timed out waiting)'}:")
        for state, n in sorted(states.items(), key=lambda item: -item[1]):
            self.stdout.write(f"  {state:<20} {n}")
        self.stdout.write(f"  needs attention      {attention}")
        why = ProcessEvent.objects.filter(process_id__in=ids, transition="start_compensation")
        for reason, n in Counter(why.values_list("reason", flat=True)).most_common(5):
            self.stdout.write(f"  compensated because: {reason} × {n}")
        if not finished:
            raise CommandError("Some orders did not finish in time; see the admin for their journal.")
