"""Limits a service publishes, kept whatever the number of orders: the carrier's own records
never show more calls in a second than its limit, and a call over a limit waits its turn
without spending an attempt."""

from datetime import timedelta

import pytest
from django.db import transaction

from fulfillment.models import Order, OrderState
from fulfillment.simulators.calls import busiest_window
from fulfillment.steps import CreateLabel, carrier_limit
from processes import clock
from processes.flow import limits
from processes.models.flow import ServiceLimiter
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from processes.models.process import Hold
from processes.policies import ServiceLimit
from tests.circuit_scenarios import run_until_at_rest
from tests.conftest import ENGINE_DB
from tests.factories import make_catalogue, place_order

pytestmark = ENGINE_DB


def test_forty_orders_never_make_the_carrier_see_more_than_five_calls_a_second(settings):
    """Forty orders reach the label step together; the carrier allows 5 calls a second. Its own
    call records never show more than 5 in any second, every order gets its label with one
    attempt, and those that waited say so once in their journal."""
    make_catalogue(on_hand=500)
    settings.CARRIER_RATE_LIMIT = 5
    with clock.frozen():
        for n in range(40):
            place_order(email=f"o{n}@example.com")
        run_until_at_rest(limit=timedelta(minutes=5), cap=timedelta(milliseconds=50))

    most, _ = busiest_window("carrier", seconds=1.0, operations=["create_label"])
    assert most == 5
    assert Order.objects.filter(state=OrderState.COMPLETED).count() == 40
    labels = StepAttempt.objects.filter(step="create_label")
    assert labels.count() == 40 and set(labels.values_list("attempt", flat=True)) == {1}
    waited = ProcessEvent.objects.filter(
        kind=EventKind.CIRCUIT, reason__contains="waits its turn under carrier"
    )
    assert waited.count() >= 30 and waited.values("process_id").distinct().count() == waited.count()
    # Forty calls at five a second (and the margin): about eight seconds, not forty orders at once.
    first, last = (
        labels.order_by("started_at").first().started_at,
        labels.order_by("started_at").last().started_at,
    )
    assert (last - first).total_seconds() >= 7


@pytest.mark.parametrize(
    ("rate", "at_once", "limit"),
    [
        (5, 0, ServiceLimit("carrier", calls=5, per_seconds=1.0)),
        (0.5, 0, ServiceLimit("carrier", calls=1, per_seconds=2.0)),
        (0, 3, ServiceLimit("carrier", concurrency=3)),
        (0, 0, None),
    ],
)
def test_the_carrier_limit_comes_from_the_settings(settings, rate, at_once, limit):
    settings.CARRIER_RATE_LIMIT, settings.CARRIER_CONCURRENCY_LIMIT = rate, at_once
    assert carrier_limit() == limit and CreateLabel().limit == limit


class ConcurrencyOfOne(CreateLabel):
    limit = ServiceLimit("carrier", concurrency=1)


def take(order: Order, now) -> bool:
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        went = limits.acquire(locked, ConcurrencyOfOne(), "", now)
        locked.save()
    order.refresh_from_db()
    return went


def test_a_call_over_the_concurrency_waits_until_one_ends_and_is_woken_then(catalogue):
    first, second = place_order(), place_order(email="two@example.com")
    Order.objects.filter(pk__in=[first.pk, second.pk]).update(step="create_label")
    now = clock.now()
    assert take(first, now)
    assert not take(second, now)
    assert (second.held_by, second.next_run_at > now) == (Hold.LIMIT, True)

    with transaction.atomic():
        limits.release(Order.objects.select_for_update().get(pk=first.pk), ConcurrencyOfOne(), "")
    second.refresh_from_db()
    assert second.next_run_at <= clock.now()  # woken by the call that ended
    assert take(second, clock.now()) and second.held_by == ""
    assert list(ServiceLimiter.objects.get().permits) == [str(second.pk)]


def test_a_place_held_by_a_worker_that_died_comes_back_when_its_lease_ends(catalogue):
    first, second = place_order(), place_order(email="two@example.com")
    with clock.frozen():
        assert take(first, clock.now())  # ... and its worker dies: nobody releases the place
        clock.advance(10)
        assert not take(second, clock.now())
        clock.advance(ConcurrencyOfOne.attempt_timeout + 5 - 10 + 1)  # its lease has ended
        assert take(second, clock.now())
