"""A step that gives up: a call step past its deadline, a wait past its own, end alike.

Both go through `processes.failures.give_up`: the step's policy says whether the order is
undone (the step itself included, as its effect may have happened) or waits for a person, and
the order's `last_error` says why it stopped.
"""

from datetime import timedelta

from fulfillment.models import Order, OrderState, PickTask
from fulfillment.steps import ChargePayment, WaitForPick
from processes import clock
from processes.models.journal import ProcessEvent, StepAttempt
from processes.policies import OnExhausted, RetryPolicy
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, place_order, run_due

pytestmark = ENGINE_DB


def test_a_call_step_past_its_deadline_is_undone_when_its_policy_says_compensate(catalogue, monkeypatch):
    """The charge is due after its deadline: it is not tried, and the order is undone from it
    (a refund that finds no charge), then cancelled."""
    monkeypatch.setattr(ChargePayment, "deadline", timedelta(seconds=30))
    with clock.frozen():
        order = place_order()
        clock.advance(timedelta(seconds=31))
        order = drive(order)

    assert order.state == OrderState.CANCELLED and not order.needs_attention
    begun = ProcessEvent.objects.get(process_id=order.pk, transition="start_compensation")
    assert begun.reason.startswith("charge_payment ran past its deadline")
    assert attempts(order) == [("charge_payment", "compensate")]
    assert payment_ledger(order)["charges"] == 0


def test_a_call_step_past_its_deadline_asks_a_person_and_says_why(catalogue, monkeypatch):
    """With needs_attention as its policy the order stops at the step, flagged, and its
    last_error says why, as a wait's does."""
    monkeypatch.setattr(ChargePayment, "deadline", timedelta(seconds=30))
    monkeypatch.setattr(ChargePayment, "retry", RetryPolicy(on_exhausted=OnExhausted.NEEDS_ATTENTION))
    with clock.frozen():
        order = place_order()
        clock.advance(timedelta(seconds=31))
        run_due(order)
    order.refresh_from_db()

    assert order.needs_attention and order.state == OrderState.RECEIVED and order.next_run_at is None
    assert order.attention_reason.startswith("charge_payment ran past its deadline")
    assert order.last_error == order.attention_reason


def test_a_wait_past_its_deadline_is_undone_with_its_own_task_when_its_policy_says_compensate(
    catalogue, settings, monkeypatch
):
    """on_timeout=compensate: the pick task is cancelled (the wait step is undone too), the
    label voided and the charge refunded."""
    settings.PICK_TIMEOUT = 600
    monkeypatch.setattr(WaitForPick, "on_timeout", OnExhausted.COMPENSATE)
    with clock.frozen():
        order = drive(place_order(), pick=False)
        clock.advance(timedelta(seconds=601))
        run_due(order)  # the sweeper's wake-up at the deadline
        order = drive(order)

    assert order.state == OrderState.CANCELLED and not order.needs_attention
    begun = ProcessEvent.objects.get(process_id=order.pk, transition="start_compensation")
    assert begun.reason.startswith("pick was not done by its deadline")
    assert ("pick", "compensate") in attempts(order)
    assert PickTask.objects.get(order=order).status == PickTask.Status.CANCELLED
    assert payment_ledger(order)["refunds"] == 1


def test_a_wait_past_its_deadline_asks_a_person_and_says_why(catalogue, settings):
    """By default (on_timeout=needs_attention) the order stays at the pick, flagged, and its
    last_error is the reason the operators read."""
    settings.PICK_TIMEOUT = 600
    with clock.frozen():
        order = drive(place_order(), pick=False)
        clock.advance(timedelta(seconds=601))
        run_due(order)
    order = Order.objects.get(pk=order.pk)

    assert order.needs_attention and order.state == OrderState.AWAITING_PICK
    assert order.last_error == order.attention_reason
    assert order.attention_reason.startswith("pick was not done by its deadline")


def attempts(order) -> list[tuple[str, str]]:
    return list(StepAttempt.objects.filter(process_id=order.pk).values_list("step", "direction"))
