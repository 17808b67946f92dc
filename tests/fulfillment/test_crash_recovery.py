"""A worker that dies anywhere, between steps or right after an external call, loses nothing
and doubles nothing: the sweeper finds the order and the retry reuses the step's key."""

from datetime import timedelta

import pytest

from fulfillment.models import Order, OrderState
from fulfillment.simulators.carrier import labels
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import SentMail
from fulfillment.workflow import ORDER_WORKFLOW
from processes import clock, conf, runner, sweeper
from processes.models.journal import AttemptOutcome, StepAttempt
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, place_order

pytestmark = ENGINE_DB

STEPS_WITH_CALLS = ["charge_payment", "create_label", "send_confirmation"]


def run_until_step(order, step):
    """Run single steps (no chaining) until `step` is the current one."""
    for _ in range(20):
        order.refresh_from_db()
        if order.step == step and order.run_status == "ready":
            return order
        if order.run_status == "waiting":
            from fulfillment.simulators.picker import simulated_picker_run

            simulated_picker_run(delay=0)
            continue
        claim = runner.claim_step(ORDER_WORKFLOW, order.pk, "worker-1")
        if isinstance(claim, runner.Claim):
            runner.apply_outcome(claim, runner.perform(claim))
    raise AssertionError(f"never reached {step}")


def assert_each_effect_once(order):
    assert order.state == OrderState.COMPLETED
    ledger = payment_ledger(order)
    assert (ledger["charges"], ledger["refunds"]) == (1, 0)
    assert labels(str(order.pk)) == {"live": 1, "voided": 0}
    assert SentMail.objects.filter(message_id__contains=str(order.pk)).count() == 1


@pytest.mark.parametrize("step", STEPS_WITH_CALLS)
def test_crash_after_the_external_call(catalogue, step):
    """The call succeeded but the worker died before recording it: the retry finds the same effect."""
    with clock.frozen():
        order = run_until_step(place_order(), step)
        claim = runner.claim_step(ORDER_WORKFLOW, order.pk, "doomed-worker")
        runner.perform(claim)  # the effect happens at the service ... and the worker dies here
        order.refresh_from_db()
        assert order.lease_owner == "doomed-worker" and order.next_run_at == order.lease_until

        clock.advance(order.lease_until - clock.now() + timedelta(seconds=1))
        clock.advance(conf.get("REDELIVER_AFTER"))
        assert sweeper.sweep_once() == 1
        order = drive(order)

    assert_each_effect_once(order)
    abandoned = StepAttempt.objects.get(process_id=order.pk, outcome=AttemptOutcome.ABANDONED)
    retried = StepAttempt.objects.get(process_id=order.pk, step=step, outcome=AttemptOutcome.SUCCEEDED)
    assert abandoned.step == step and abandoned.idempotency_key == retried.idempotency_key


@pytest.mark.parametrize("step", ["reserve_inventory", "create_label", "pick", "send_confirmation"])
def test_crash_between_steps(catalogue, step):
    """The previous step committed and the worker died before the next: the sweeper resumes it."""
    with clock.frozen():
        order = run_until_step(place_order(), step)
        # No task is running and the wake-up is gone; only the database knows the order is due.
        Order.objects.filter(pk=order.pk).update(enqueued_at=clock.now())
        clock.advance(conf.get("REDELIVER_AFTER") + 1)
        assert sweeper.sweep_once() == 1
        order = drive(order)

    assert_each_effect_once(order)
    assert catalogue.stock(catalogue.mug).reserved == 2


def test_crash_inside_record_rolls_back_and_retries(catalogue, monkeypatch):
    """A failure while recording the charge leaves no half-written rows; the retry completes once."""
    from fulfillment import payments

    real = payments.payment_record_charge
    calls = {"n": 0}

    def explode_once(**kwargs):
        calls["n"] += 1
        real(**kwargs)
        if calls["n"] == 1:
            raise RuntimeError("database hiccup after writing the payment row")

    monkeypatch.setattr(payments, "payment_record_charge", explode_once)
    with clock.frozen():
        order = drive(place_order())

    assert_each_effect_once(order)
    first = StepAttempt.objects.filter(process_id=order.pk, step="charge_payment").first()
    assert first.outcome == AttemptOutcome.FAILED and "hiccup" in first.error_message


def test_dead_workers_do_not_use_up_the_retries(catalogue):
    """A charge whose workers died twice and then failed 6 times still gets its 6 real tries:
    worker deaths are not counted against the step's retries (up to a limit)."""
    order = place_order()
    fault_add(service="payment", operation="charge", mode="unavailable", times=5)
    with clock.frozen():
        for doomed in ("doomed-1", "doomed-2"):
            claim = runner.claim_step(ORDER_WORKFLOW, order.pk, doomed)
            assert isinstance(claim, runner.Claim)
            order.refresh_from_db()
            clock.advance(order.lease_until - clock.now() + timedelta(seconds=1))
            runner.claim_step(ORDER_WORKFLOW, order.pk, "sweeper-woken")  # notices the dead worker
            order.refresh_from_db()
            clock.advance(order.next_run_at - clock.now())
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    attempts = StepAttempt.objects.filter(process_id=order.pk, step="charge_payment")
    assert list(attempts.values_list("outcome", flat=True)) == ["abandoned"] * 2 + ["failed"] * 5 + [
        "succeeded"
    ]
    assert payment_ledger(order)["charges"] == 1


def test_a_step_that_kills_every_worker_still_ends(catalogue):
    """Past the free allowance, worker deaths count: the step gives up as its policy says."""
    order = place_order()
    with clock.frozen():
        for n in range(60):
            order.refresh_from_db()
            if order.step != "charge_payment" or order.direction != "forward":
                break
            claim = runner.claim_step(ORDER_WORKFLOW, order.pk, f"doomed-{n}")
            if isinstance(claim, runner.Claim):
                order.refresh_from_db()
                clock.advance(order.lease_until - clock.now() + timedelta(seconds=1))
            elif order.next_run_at:
                clock.advance(max(order.next_run_at - clock.now(), timedelta(0)))
        order = drive(order)

    abandoned = StepAttempt.objects.filter(process_id=order.pk, step="charge_payment", outcome="abandoned")
    assert abandoned.count() == 6 + 3  # max_attempts + FREE_ABANDONED_ATTEMPTS
    assert order.state == OrderState.CANCELLED
