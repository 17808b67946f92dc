"""Illegal order transitions are refused with a clear error, and the state cannot be forced."""

import pytest
from django_fsm import TransitionNotAllowed

from fulfillment.models import Order, OrderState, Payment, Shipment
from processes import clock
from processes.exceptions import ProcessStateError
from processes.interventions import process_compensate
from processes.journal import Actor
from processes.models.journal import ProcessEvent
from processes.models.process import Direction, RunStatus
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order, run_due

pytestmark = ENGINE_DB

GUARD_FAILED = "Transition conditions have not been met for method"


@pytest.fixture
def one_step_per_run(settings):
    """Each worker pass runs one step, so a test can stop the order between any two steps."""
    settings.PROCESSES = {**settings.PROCESSES, "CHAIN_STEPS": 1}


def run_until(order: Order, state: str, *, max_runs: int = 20) -> Order:
    """Run one step at a time (under a frozen clock) until the order reaches `state`."""
    for _ in range(max_runs):
        order.refresh_from_db()
        if order.state == state:
            return order
        if order.next_run_at and order.next_run_at > clock.now():
            clock.advance(order.next_run_at - clock.now())
        run_due(order)
    raise AssertionError(f"order {order.pk} did not reach {state}: it is {order.state}")


def test_complete_on_a_received_order_is_refused(catalogue):
    """A received order cannot jump to completed."""
    with clock.frozen():
        order = place_order()

    with pytest.raises(TransitionNotAllowed, match="from state 'received' using method 'complete'"):
        order.complete()
    assert order.state == OrderState.RECEIVED
    order.refresh_from_db()
    assert order.state == OrderState.RECEIVED


def test_label_created_needs_a_live_shipment(catalogue, one_step_per_run):
    """From inventory_reserved, mark_label_created is refused until a live label exists."""
    with clock.frozen():
        order = run_until(place_order(), OrderState.INVENTORY_RESERVED)
        assert not order.shipments.exists()

        with pytest.raises(TransitionNotAllowed, match=f"{GUARD_FAILED} 'mark_label_created'"):
            order.mark_label_created()
        assert order.state == OrderState.INVENTORY_RESERVED

        Shipment.objects.create(
            order=order, carrier="simpost", tracking_number="T-0", label_url="x", voided_at=clock.now()
        )
        with pytest.raises(TransitionNotAllowed, match=f"{GUARD_FAILED} 'mark_label_created'"):
            order.mark_label_created()  # a voided label is no label

        Shipment.objects.create(order=order, carrier="simpost", tracking_number="T-1", label_url="x")
        order.mark_label_created()
    assert order.state == OrderState.LABEL_CREATED


def test_no_cancel_after_completion(catalogue):
    """A completed order can neither start compensating nor be compensated by an operator."""
    with clock.frozen():
        order = drive(place_order())
    assert order.state == OrderState.COMPLETED
    events = ProcessEvent.objects.filter(process_id=order.pk).count()

    with pytest.raises(TransitionNotAllowed, match="from state 'completed'"):
        order.start_compensation()
    with pytest.raises(ProcessStateError, match="nothing to compensate"):
        process_compensate(model=Order, process_id=order.pk, actor=Actor("operator", "ops"), reason="refund")

    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED
    assert order.run_status == RunStatus.FINISHED and order.direction == Direction.FORWARD
    assert Payment.objects.get(order=order).status == Payment.Status.CHARGED
    assert ProcessEvent.objects.filter(process_id=order.pk).count() == events


def test_state_cannot_be_assigned(catalogue):
    """`state` is protected: assigning it raises, and the stored state is unchanged."""
    with clock.frozen():
        order = place_order()

    with pytest.raises(AttributeError):
        order.state = OrderState.COMPLETED
    assert order.state == OrderState.RECEIVED
    order.refresh_from_db()
    assert order.state == OrderState.RECEIVED


def test_cancel_refused_while_payment_is_charged(catalogue, one_step_per_run):
    """A compensating order cannot be marked cancelled before its payment is refunded."""
    with clock.frozen():
        order = run_until(place_order(), OrderState.PAYMENT_CHARGED)
        process_compensate(model=Order, process_id=order.pk, actor=Actor("operator", "ops"), reason="stop")
        order.refresh_from_db()
        assert order.state == OrderState.COMPENSATING
        assert Payment.objects.get(order=order).status == Payment.Status.CHARGED

        with pytest.raises(TransitionNotAllowed, match=f"{GUARD_FAILED} 'mark_cancelled'"):
            order.mark_cancelled()
        assert order.state == OrderState.COMPENSATING

        order = drive(order)
    assert order.state == OrderState.CANCELLED
    assert Payment.objects.get(order=order).status == Payment.Status.REFUNDED
