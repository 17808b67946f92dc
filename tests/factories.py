"""Test data builders and a driver that runs the engine in-process under a frozen clock."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from fulfillment.models import Order, Product, Stock, Warehouse
from fulfillment.ordering import LineRequest, order_place
from fulfillment.simulators.payment import ledger
from fulfillment.simulators.picker import simulated_picker_run
from processes import clock, runner
from processes.journal import Actor
from processes.models.process import RunStatus

ADDRESS = {
    "name": "Ada Lovelace",
    "line1": "12 Analytical Row",
    "line2": "",
    "city": "London",
    "postal_code": "N1 7AA",
    "country": "GB",
}


@dataclass
class Catalogue:
    warehouse: Warehouse
    mug: Product
    tee: Product

    def stock(self, product: Product) -> Stock:
        return Stock.objects.get(product=product, warehouse=self.warehouse)


def make_catalogue(*, on_hand: int = 100) -> Catalogue:
    warehouse = Warehouse.objects.create(code="MAIN", name="Main warehouse")
    mug = Product.objects.create(sku="MUG-001", name="Enamel mug", price=Decimal("12.50"), weight_grams=350)
    tee = Product.objects.create(sku="TEE-042", name="T-shirt", price=Decimal("24.00"), weight_grams=200)
    for product in (mug, tee):
        Stock.objects.create(product=product, warehouse=warehouse, on_hand=on_hand)
    return Catalogue(warehouse, mug, tee)


def place_order(
    *, token: str = "tok_ok", lines=(("MUG-001", 2), ("TEE-042", 1)), email="ada@example.com"
) -> Order:
    return order_place(
        email=email,
        shipping_address=ADDRESS,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        payment_token=token,
        actor=Actor("client", "test"),
    )


def run_due(order: Order) -> int:
    """One worker pass over the order, as a queue task would do."""
    return runner.run_process(Order._meta.label_lower, order.pk)


def drive(order: Order, *, pick: bool = True, max_rounds: int = 200) -> Order:
    """Run the order to rest under a frozen clock: jump to each due time, pick when waiting.

    Stops when the order finishes or needs attention (or waits, with pick=False).
    """
    for _ in range(max_rounds):
        order.refresh_from_db()
        if order.run_status == RunStatus.FINISHED or order.needs_attention:
            return order
        if order.run_status == RunStatus.WAITING:
            if not pick:
                return order
            simulated_picker_run(delay=0)
            continue
        if order.next_run_at and order.next_run_at > clock.now():
            clock.advance(order.next_run_at - clock.now() + timedelta(milliseconds=1))
        run_due(order)
    raise AssertionError(f"order {order.pk} did not come to rest: {order.state} {order.step}")


def payment_ledger(order: Order) -> dict:
    return ledger(str(order.pk))


def after_quiet_window():
    """A start time two minutes after the latest step attempt: a run frozen there does not share
    a circuit's window (processes.flow) with the orders made before it, so a few orders
    failing one after the other each use up their own retries instead of opening a circuit."""
    from django.db.models import Max

    from processes.models.journal import StepAttempt

    latest = StepAttempt.objects.aggregate(latest=Max("started_at"))["latest"]
    return max(clock.now(), latest + timedelta(minutes=2)) if latest else clock.now()
