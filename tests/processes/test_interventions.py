"""Operator interventions: allowed from the right state, refused from the wrong one, journalled."""

import pytest

from fulfillment.gateways import Label
from fulfillment.models import Order, OrderState
from fulfillment.simulators.faults import fault_add
from processes import clock
from processes.exceptions import ProcessStateError
from processes.inbox import process_message_deliver
from processes.interventions import (
    process_compensate,
    process_resolve_attention,
    process_retry_now,
    process_skip_step,
)
from processes.journal import Actor
from processes.models.inbox import ProcessMessage
from processes.models.journal import EventKind, ProcessEvent
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order

pytestmark = ENGINE_DB
OPS = Actor("operator", "olga")


def test_retry_now_clears_backoff_and_attention(catalogue):
    """A confirmation that gave up is retried at once by the operator and completes."""
    order = place_order()
    fault_add(service="mail", operation="send", mode="unavailable", times=8)
    with clock.frozen():
        order = drive(order)
        assert order.needs_attention
        process_retry_now(
            model=Order, process_id=order.pk, actor=OPS, reason="mail relay fixed", reset_attempts=True
        )
        order = drive(order)

    assert order.state == OrderState.COMPLETED and not order.needs_attention
    note = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.OPERATOR_ACTION)
    assert (note.actor_type, note.actor) == ("operator", "olga") and "mail relay fixed" in note.reason


def test_retry_refused_when_nothing_to_retry(catalogue):
    """A completed order cannot be retried; the refusal says why and changes nothing."""
    with clock.frozen():
        order = drive(place_order())
    with pytest.raises(ProcessStateError, match="no step to retry"):
        process_retry_now(model=Order, process_id=order.pk, actor=OPS, reason="?")
    assert not ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.OPERATOR_ACTION).exists()


def test_skip_label_step_by_hand(catalogue):
    """A label made on the carrier's own site is entered by hand; the order goes on to completion."""
    order = place_order()
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=3)
    with clock.frozen():
        from tests.factories import run_due

        for _ in range(3):
            run_due(order)
            order.refresh_from_db()
            clock.advance(0.001)
        assert order.step == "create_label"
        label = Label(carrier="SIMPOST", tracking_number="SP999999999999", label_url="manual://label")
        process_skip_step(
            model=Order,
            process_id=order.pk,
            step="create_label",
            result=label,
            actor=OPS,
            reason="made by hand",
        )
        with pytest.raises(ProcessStateError, match="not at step 'create_label'"):
            process_skip_step(
                model=Order, process_id=order.pk, step="create_label", result=label, actor=OPS, reason="again"
            )
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    assert order.shipments.get().tracking_number == "SP999999999999"


def test_compensate_then_resolve_refused(catalogue):
    """Compensating by hand cancels with refunds; a second compensation and a resolve are refused."""
    with clock.frozen():
        order = drive(place_order(), pick=False)
        process_compensate(model=Order, process_id=order.pk, actor=OPS, reason="customer called")
        order = drive(order)
    assert order.state == OrderState.CANCELLED
    with pytest.raises(ProcessStateError):
        process_compensate(model=Order, process_id=order.pk, actor=OPS, reason="again")
    with pytest.raises(ProcessStateError, match="does not need attention"):
        process_resolve_attention(model=Order, process_id=order.pk, actor=OPS, reason="?")


def test_message_is_kept_once(catalogue):
    """A provider event is stored and journalled once, however often it is delivered."""
    order = place_order()
    for _ in range(2):
        process_message_deliver(
            model=Order,
            process_id=order.pk,
            name="charge.disputed",
            dedup_key="evt_1",
            payload={"id": "evt_1"},
            actor=Actor("system", "payments-webhook"),
            reason="dispute opened",
        )
    assert ProcessMessage.objects.filter(process_id=order.pk).count() == 1
    assert (
        ProcessEvent.objects.filter(
            process_id=order.pk, reason__startswith="received charge.disputed"
        ).count()
        == 1
    )
