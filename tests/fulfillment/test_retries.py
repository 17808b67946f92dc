"""Retries back off with jitter under the engine's clock, and give up as each policy says."""

import logging
from datetime import timedelta

from fulfillment.models import OrderState
from fulfillment.simulators.faults import fault_add
from fulfillment.steps import ChargePayment, SendConfirmation
from fulfillment.workflow import ORDER_WORKFLOW
from processes import clock, signals
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, place_order, run_due

pytestmark = ENGINE_DB


def test_retry_waits_for_its_backoff(catalogue):
    """A failed charge is not retried before its due time, and is retried once it is due."""
    order = place_order()
    fault_add(service="payment", operation="charge", mode="unavailable", times=3)
    policy = ChargePayment.retry
    with clock.frozen() as _:
        for attempt in (1, 2, 3):
            failed_at = clock.now()
            run_due(order)
            order.refresh_from_db()
            assert order.state == OrderState.RECEIVED and order.attempts == attempt
            wait = order.next_run_at - failed_at
            assert timedelta(0) <= wait <= timedelta(seconds=policy.ceiling(attempt))
            if wait > timedelta(milliseconds=1):
                clock.advance(wait - timedelta(milliseconds=1))
                assert run_due(order) == 0, "ran before its backoff was over"
            clock.advance(order.next_run_at - clock.now())
        run_due(order)
        order.refresh_from_db()

    assert order.state != OrderState.RECEIVED and payment_ledger(order)["charges"] == 1
    notes = ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.RETRY_SCHEDULED)
    assert notes.count() == 3 and "attempt 1/6 of charge_payment failed" in notes.first().reason


def test_backoff_is_capped(catalogue):
    """Delays never exceed the policy's cap, however many attempts failed."""
    assert ChargePayment.retry.ceiling(20) == ChargePayment.retry.backoff_cap
    assert all(ChargePayment.retry.delay(n) <= ChargePayment.retry.backoff_cap for n in range(1, 30))


def test_forward_step_exhausted_compensates(catalogue):
    """charge_payment's policy compensates after 6 failures: cancelled, nothing charged."""
    order = place_order()
    fault_add(service="payment", operation="charge", mode="unavailable", times=6)
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.CANCELLED and not order.needs_attention
    assert (
        StepAttempt.objects.filter(process_id=order.pk, step="charge_payment", direction="forward").count()
        == 6
    )
    assert payment_ledger(order)["charges"] == 0


def test_forward_step_exhausted_needs_attention(catalogue):
    """send_confirmation's policy asks a person: the picked order is kept, flagged, not refunded."""
    order = place_order()
    fault_add(service="mail", operation="send", mode="unavailable", times=SendConfirmation.retry.max_attempts)
    alerts = []
    signals.needs_attention.connect(lambda **kw: alerts.append(kw), weak=False, dispatch_uid="t1")
    try:
        with clock.frozen():
            order = drive(order)
    finally:
        signals.needs_attention.disconnect(dispatch_uid="t1")

    assert order.state == OrderState.PICKED and order.needs_attention
    assert order.next_run_at is None and "gave up after 8 attempts" in order.attention_reason
    assert payment_ledger(order)["refunds"] == 0
    assert len(alerts) == 1 and alerts[0]["step"] == "send_confirmation"


def test_compensation_exhausted_is_never_dropped(catalogue, caplog):
    """A refund that keeps failing raises needs-attention and alerts operators by log and signal."""
    order = place_order(lines=[("MUG-001", 500)])
    undo_policy = ORDER_WORKFLOW.step("charge_payment").undo_retry
    fault_add(service="payment", operation="refund", mode="unavailable", times=undo_policy.max_attempts)
    alerts = []
    signals.needs_attention.connect(lambda **kw: alerts.append(kw), weak=False, dispatch_uid="t2")
    try:
        with clock.frozen(), caplog.at_level(logging.ERROR, logger="processes.attention"):
            order = drive(order)
    finally:
        signals.needs_attention.disconnect(dispatch_uid="t2")

    assert order.state == OrderState.COMPENSATING and order.needs_attention
    assert order.step == "charge_payment" and order.direction == "compensate"
    assert order.run_status == RunStatus.READY and order.next_run_at is None
    assert "undo of charge_payment gave up" in order.attention_reason
    assert payment_ledger(order)["refunds"] == 0
    assert len(alerts) == 1
    assert any('"event": "process_needs_attention"' in r.getMessage() for r in caplog.records)


def test_pick_not_done_in_time_needs_attention(catalogue, settings):
    """Nobody picks before the pick deadline: the order is flagged and waits for an operator."""
    settings.PICK_TIMEOUT = 600
    with clock.frozen():
        order = drive(place_order(), pick=False)
        assert order.state == OrderState.AWAITING_PICK and order.next_run_at == order.deadline_at
        clock.advance(timedelta(seconds=601))
        run_due(order)
        order.refresh_from_db()

    assert order.needs_attention and "pick was not done by its deadline" in order.attention_reason
    assert order.state == OrderState.AWAITING_PICK
