"""The demo's returns: `place_demo_orders` asks for a few returns of the orders it completed,
through the same service as the API, and waits while the simulated carrier and inspector take
them to their end, so a person watching `make run` sees a return go through on its own."""

import random
from collections.abc import Iterable

from django.conf import settings

from fulfillment.models import Order, OrderState, Return
from fulfillment.returns.requests import ReturnLineRequest, return_request
from fulfillment.simulators.returns import simulated_carrier_run, simulated_inspector_run
from processes.journal import Actor
from processes.models.process import RunStatus

CLIENT = Actor("client", "place_demo_orders")
REASONS = ["Does not fit", "Changed my mind", "Arrived damaged", "Not as pictured"]


def demo_returns_request(*, order_ids: Iterable, count: int, rng: random.Random) -> list[Return]:
    """Return one unit of one line of up to `count` of the completed orders among `order_ids`,
    as their client would; the rest of each order stays with the customer."""
    completed = list(Order.objects.filter(pk__in=list(order_ids), state=OrderState.COMPLETED).order_by("pk"))
    returns = []
    for order in rng.sample(completed, min(count, len(completed))):
        line = rng.choice(list(order.lines.order_by("pk")))
        wanted = [ReturnLineRequest(order_line_id=line.pk, quantity=1)]
        returns.append(return_request(order=order, lines=wanted, reason=rng.choice(REASONS), actor=CLIENT))
    return returns


def demo_returns_advance() -> None:
    """What the simulated carrier and inspector would do now, at their configured delays (at
    once when they are off, so the demo still ends)."""
    simulated_carrier_run(delay=settings.SIMULATED_CARRIER_DELAY or 0.0)
    simulated_inspector_run(delay=settings.SIMULATED_INSPECTOR_DELAY or 0.0)


def demo_returns_open(return_ids: Iterable) -> bool:
    """Whether any of them is still going: neither finished nor waiting for an operator."""
    going = Return.objects.filter(pk__in=list(return_ids)).exclude(run_status=RunStatus.FINISHED)
    return going.exclude(needs_attention=True).exists()
