"""place_demo_orders asks for a few returns of the orders it completed, through the return
service the API uses, and the simulated carrier and inspector take them to their end."""

import random

import pytest
from django.core.management import CommandError, call_command

from fulfillment.models import Order, ReturnState
from fulfillment.proving.demo_returns import demo_returns_advance, demo_returns_open, demo_returns_request
from processes import clock
from processes.models.journal import ProcessEvent
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, place_order
from tests.return_factories import drive_return

pytestmark = ENGINE_DB


def test_a_unit_of_one_line_of_some_completed_orders_is_returned(catalogue):
    with clock.frozen():
        completed = [drive(place_order()) for _ in range(3)]
        declined = drive(place_order(token="tok_declined"))
    ids = [order.pk for order in [*completed, declined]]

    returns = demo_returns_request(order_ids=ids, count=2, rng=random.Random(4))

    assert len(returns) == 2
    assert {ret.order_id for ret in returns} < {order.pk for order in completed}
    for ret in returns:
        (line,) = ret.lines.all()
        assert line.quantity == 1 and ret.amount == line.order_line.unit_price
        event = ProcessEvent.objects.filter(process_id=ret.pk).earliest("pk")
        assert (event.actor_type, event.actor) == ("client", "place_demo_orders")


def test_no_more_returns_than_completed_orders(catalogue):
    with clock.frozen():
        order = drive(place_order())
    assert len(demo_returns_request(order_ids=[order.pk], count=3, rng=random.Random(1))) == 1


def test_the_simulators_take_the_demo_returns_to_completed(catalogue, settings):
    """With the delays at 0 (as when they are off), each pass moves the returns on."""
    settings.SIMULATED_CARRIER_DELAY = settings.SIMULATED_INSPECTOR_DELAY = None
    with clock.frozen():
        order = drive(place_order())
        (ret,) = demo_returns_request(order_ids=[order.pk], count=1, rng=random.Random(2))
        for _ in range(4):
            ret = drive_return(ret, parcel=False, judge=None)
            demo_returns_advance()
        ret = drive_return(ret, parcel=False, judge=None)

    assert ret.state == ReturnState.COMPLETED and not demo_returns_open([ret.pk])
    assert payment_ledger(order)["refunded"] == ret.refund.amount == ret.lines.get().order_line.unit_price


def test_a_negative_number_of_returns_is_refused_before_anything_is_placed():
    with pytest.raises(CommandError, match="--returns must be 0 or more, not -1."):
        call_command("place_demo_orders", "--count", "5", "--returns", "-1", "--no-workers")
    assert not Order.objects.exists()
