"""generate_orders fills the tables fast with orders in every state, journal consistent."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Max, Min

from fulfillment.models import Order, OrderLine, OrderState, Return, ReturnState
from fulfillment.proving.generation import CLIENTS, orders_generate
from processes import clock
from processes.models.journal import ProcessEvent
from processes.models.process import RunStatus

pytestmark = pytest.mark.django_db(transaction=True)


def test_generates_orders_in_every_state_with_their_journal():
    """Mostly completed, a few hundred flagged, each order's last journal entry is its state."""
    call_command("generate_orders", "--count", "2000", "--batch", "700")

    assert Order.objects.count() == 2000 and OrderLine.objects.count() == 2000
    states = set(Order.objects.values_list("state", flat=True))
    assert {OrderState.COMPLETED, OrderState.CANCELLED, OrderState.AWAITING_PICK}.issubset(states)
    assert Order.objects.filter(needs_attention=True).count() == 300
    assert Order.objects.filter(state=OrderState.COMPLETED).count() > 1500
    last = ProcessEvent.objects.values("process_id").annotate(last=Max("id")).values_list("last", flat=True)
    by_order = dict(ProcessEvent.objects.filter(id__in=list(last)).values_list("process_id", "to_state"))
    assert all(by_order[pk] == state for pk, state in Order.objects.values_list("pk", "state"))


def test_returns_a_share_of_the_completed_orders_in_every_resting_place():
    """One return of one unit for about --returns of the completed orders: mostly completed, the
    ones in flight the newest, the oldest 30 flagged."""
    call_command("generate_orders", "--count", "3000", "--returns", "0.1")

    returns = Return.objects.all()
    assert 200 < returns.count() < 360
    assert not returns.exclude(order__state=OrderState.COMPLETED).exists()
    assert returns.values("order").distinct().count() == returns.count()
    states = set(returns.values_list("state", flat=True))
    assert {ReturnState.COMPLETED, ReturnState.CANCELLED, ReturnState.AWAITING_PARCEL} <= states
    assert returns.filter(needs_attention=True).count() == 30
    in_flight = returns.exclude(run_status=RunStatus.FINISHED).filter(needs_attention=False)
    assert (
        in_flight.aggregate(first=Min("created_at"))["first"]
        > returns.filter(run_status=RunStatus.FINISHED).aggregate(last=Max("created_at"))["last"]
    )
    assert all(ret.lines.get().quantity == 1 for ret in returns[:20])


def test_bad_count_is_refused():
    """A count out of range is refused with the reason, and nothing is written."""
    with pytest.raises(CommandError, match="--count must be between"):
        call_command("generate_orders", "--count", "0")
    assert not Order.objects.exists()


def test_bad_share_of_returns_is_refused():
    with pytest.raises(CommandError, match="--returns must be a share between 0 and 1, not 1.5"):
        call_command("generate_orders", "--count", "10", "--returns", "1.5")
    assert not Order.objects.exists()


def test_orders_in_flight_are_the_newest_and_each_belongs_to_an_api_client():
    """As in a live table: what is still in flight was placed last (in the last hour)."""
    orders_generate(count=3000, batch=1000)

    finished = Order.objects.filter(run_status=RunStatus.FINISHED)
    in_flight = Order.objects.exclude(run_status=RunStatus.FINISHED).filter(needs_attention=False)
    assert in_flight.exists()
    last_finished = finished.aggregate(last=Max("created_at"))["last"]
    assert in_flight.aggregate(first=Min("created_at"))["first"] > last_finished
    assert in_flight.filter(step_started_at__lt=clock.now() - timedelta(hours=1, minutes=1)).count() == 0
    assert not Order.objects.filter(owner__isnull=True).exists()
    assert Order.objects.values("owner").distinct().count() == CLIENTS
