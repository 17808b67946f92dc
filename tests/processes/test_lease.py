"""Two workers on one order never both run a step: the lease and its fence decide who applies."""

import threading
from datetime import timedelta

import pytest
from django.db import connections

from fulfillment.models import Order, OrderState, Payment
from fulfillment.workflow import ORDER_WORKFLOW
from processes import clock, runner
from processes.exceptions import ProcessStateError
from processes.interventions import process_compensate, process_retry_now
from processes.journal import Actor
from processes.models.journal import AttemptOutcome, EventKind, ProcessEvent, StepAttempt
from processes.versions import process_migrate_version
from tests.conftest import ENGINE_DB
from tests.factories import payment_ledger, place_order

pytestmark = ENGINE_DB

CHARGE = "charge_payment"
OLGA = Actor("operator", "olga")


def charge_attempts(order) -> list[StepAttempt]:
    return list(StepAttempt.objects.filter(process_id=order.pk, step=CHARGE).order_by("attempt"))


def test_second_worker_cannot_claim_while_the_lease_holds(catalogue):
    """While A's lease on the charge step holds, B's claim finds nothing to do."""
    with clock.frozen():
        order = place_order()
        claim_a = runner.claim_step(ORDER_WORKFLOW, order.pk, "A")
        assert isinstance(claim_a, runner.Claim)
        assert (claim_a.step.name, claim_a.worker) == (CHARGE, "A")

        assert runner.claim_step(ORDER_WORKFLOW, order.pk, "B") is None
        clock.advance(claim_a.process.lease_until - clock.now() - timedelta(milliseconds=1))
        assert runner.claim_step(ORDER_WORKFLOW, order.pk, "B") is None

    order.refresh_from_db()
    assert (order.lease_owner, order.fence) == ("A", claim_a.fence)
    assert [(a.worker, a.outcome) for a in charge_attempts(order)] == [("A", AttemptOutcome.RUNNING)]


def test_late_worker_cannot_apply_after_its_lease_expired(catalogue):
    """A's lease expires, B takes over and charges; A's late result is refused; one charge in all."""
    with clock.frozen():
        order = place_order()
        claim_a = runner.claim_step(ORDER_WORKFLOW, order.pk, "A")
        assert isinstance(claim_a, runner.Claim)

        clock.advance(claim_a.process.lease_until - clock.now() + timedelta(seconds=1))
        # B's first claim only records that A stopped answering and schedules the retry.
        assert not isinstance(runner.claim_step(ORDER_WORKFLOW, order.pk, "B"), runner.Claim)
        (attempt_a,) = charge_attempts(order)
        assert (attempt_a.worker, attempt_a.outcome) == ("A", AttemptOutcome.ABANDONED)
        assert ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.LEASE_EXPIRED).count() == 1

        order.refresh_from_db()
        assert order.lease_owner == "" and order.state == OrderState.RECEIVED
        clock.advance(max(order.next_run_at - clock.now(), timedelta(0)))
        claim_b = runner.claim_step(ORDER_WORKFLOW, order.pk, "B")
        assert isinstance(claim_b, runner.Claim)
        assert claim_b.fence > claim_a.fence
        assert claim_b.ctx.idempotency_key == claim_a.ctx.idempotency_key
        assert runner.apply_outcome(claim_b, runner.perform(claim_b)) is True

        assert runner.apply_outcome(claim_a, runner.perform(claim_a)) is False

    order.refresh_from_db()
    assert order.state == OrderState.PAYMENT_CHARGED
    attempts = {a.worker: a.outcome for a in charge_attempts(order)}
    assert attempts == {"A": AttemptOutcome.LEASE_LOST, "B": AttemptOutcome.SUCCEEDED}
    assert payment_ledger(order)["charges"] == 1
    assert Payment.objects.filter(order=order).count() == 1
    charged = ProcessEvent.objects.filter(process_id=order.pk, to_state=OrderState.PAYMENT_CHARGED)
    assert charged.filter(kind=EventKind.TRANSITION).count() == 1


def test_late_result_is_refused_while_the_new_holder_is_still_working(catalogue):
    """A's result arriving while B holds the lease is discarded; B's result is applied."""
    with clock.frozen():
        order = place_order()
        claim_a = runner.claim_step(ORDER_WORKFLOW, order.pk, "A")
        clock.advance(claim_a.process.lease_until - clock.now() + timedelta(seconds=1))
        runner.claim_step(ORDER_WORKFLOW, order.pk, "B")
        order.refresh_from_db()
        clock.advance(max(order.next_run_at - clock.now(), timedelta(0)))
        claim_b = runner.claim_step(ORDER_WORKFLOW, order.pk, "B")
        assert isinstance(claim_b, runner.Claim)

        assert runner.apply_outcome(claim_a, runner.perform(claim_a)) is False
        order.refresh_from_db()
        assert (order.state, order.lease_owner) == (OrderState.RECEIVED, "B")
        assert not Payment.objects.filter(order=order).exists()

        assert runner.apply_outcome(claim_b, runner.perform(claim_b)) is True

    order.refresh_from_db()
    assert order.state == OrderState.PAYMENT_CHARGED
    attempts = {a.worker: a.outcome for a in charge_attempts(order)}
    assert attempts == {"A": AttemptOutcome.LEASE_LOST, "B": AttemptOutcome.SUCCEEDED}
    assert payment_ledger(order)["charges"] == 1
    assert Payment.objects.filter(order=order).count() == 1


def test_two_workers_racing_on_one_order_charge_once(catalogue, settings):
    """Two queue workers running the same order at once (slow gateway) make one charge attempt."""
    settings.SIMULATORS = {**settings.SIMULATORS, "LATENCY_MS": 300}
    order = place_order()
    start = threading.Barrier(2, timeout=10)
    handled, errors = [], []

    def worker(name):
        try:
            start.wait()
            handled.append(runner.run_process("fulfillment.order", order.pk, worker=name))
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(name,)) for name in ("A", "B")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not errors, errors
    assert len(handled) == 2 and sum(handled) == 4  # charge, reserve, label, open pick
    order = Order.objects.get(pk=order.pk)
    assert order.state == OrderState.AWAITING_PICK
    succeeded = StepAttempt.objects.filter(process_id=order.pk, outcome=AttemptOutcome.SUCCEEDED)
    assert succeeded.filter(step=CHARGE).count() == 1
    assert not StepAttempt.objects.filter(process_id=order.pk).exclude(outcome=AttemptOutcome.SUCCEEDED)
    for step in ("charge_payment", "reserve_inventory", "create_label", "pick"):
        assert StepAttempt.objects.filter(process_id=order.pk, step=step).count() == 1, step
    assert payment_ledger(order)["charges"] == 1
    assert Payment.objects.filter(order=order).count() == 1


def test_a_person_waits_for_a_live_lease_and_takes_over_from_a_dead_one(catalogue):
    """An operator's retry, a cancel and a move to another version are refused while a worker's
    call is in flight; once its lease ran out, each goes ahead and the dead worker's attempt
    is marked abandoned, as the runner would have marked it."""
    actions = {
        "retry": lambda order: process_retry_now(model=Order, process_id=order.pk, actor=OLGA, reason="go"),
        "cancel": lambda order: process_compensate(model=Order, process_id=order.pk, actor=OLGA, reason="no"),
        "move": lambda order: process_migrate_version(
            model=Order, process_id=order.pk, to_version=2, actor=OLGA, reason="v2"
        ),
    }
    for name, act in actions.items():
        with clock.frozen():
            order = place_order()
            claim = claim_the_label(order, worker="A")
            with pytest.raises(ProcessStateError, match="is running create_label right now"):
                act(order)
            clock.advance(claim.process.lease_until - clock.now() + timedelta(seconds=1))
            act(order)

        order.refresh_from_db()
        assert (order.lease_owner, order.lease_until) == ("", None), name
        label = StepAttempt.objects.filter(process_id=order.pk, step="create_label", direction="forward")
        assert list(label.values_list("worker", "outcome")) == [("A", AttemptOutcome.ABANDONED)], name


def claim_the_label(order, *, worker: str) -> runner.Claim:
    """Run the order up to its label and claim that call, as a worker that then dies would."""
    while True:
        claim = runner.claim_step(ORDER_WORKFLOW, order.pk, worker)
        if isinstance(claim, runner.Claim) and claim.step.name == "create_label":
            return claim
        if isinstance(claim, runner.Claim):
            runner.apply_outcome(claim, runner.perform(claim))
