"""A flag raised from outside (a payment dispute) survives the step's own success."""

from fulfillment.models import Order, OrderState
from processes import clock
from processes.attention import raise_attention
from processes.control import process_signal
from processes.journal import Actor
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order

pytestmark = ENGINE_DB


def _flag(order, *, about_step):
    from django.db import transaction

    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        raise_attention(locked, "dispute opened", about_step=about_step)
        locked.save()


def test_pick_confirmation_keeps_an_outside_flag(catalogue):
    """A dispute flagged while waiting for the pick is not cleared by the pick: the order stops."""
    with clock.frozen():
        order = drive(place_order(), pick=False)
        _flag(order, about_step=False)
        from fulfillment.simulators.picker import simulated_picker_run

        simulated_picker_run(delay=0)
        order.refresh_from_db()

    assert order.state == OrderState.PICKED
    assert order.needs_attention and order.attention_reason == "dispute opened"
    assert order.next_run_at is None


def test_pick_confirmation_clears_its_own_timeout_flag(catalogue):
    """A flag the wait raised itself (its deadline passed) is cleared when the pick arrives."""
    with clock.frozen():
        order = drive(place_order(), pick=False)
        _flag(order, about_step=True)
        process_signal(
            model=Order,
            process_id=order.pk,
            step="pick",
            payload={},
            actor=Actor("worker", "w"),
            reason="late",
        )
        order = drive(order)

    assert order.state == OrderState.COMPLETED and not order.needs_attention
