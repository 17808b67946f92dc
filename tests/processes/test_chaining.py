"""A worker chains due steps in few transactions: one commit applies a call and claims the next."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.models import OrmQ

from fulfillment import payments
from fulfillment.models import OrderState, Payment
from processes import clock, runner
from processes.models.journal import AttemptOutcome, EventKind, ProcessEvent, StepAttempt
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, place_order, run_due

pytestmark = ENGINE_DB


def run_counted(order) -> tuple[int, list[str]]:
    """One worker pass; returns the steps it handled and the SQL it sent on our connection."""
    with CaptureQueriesContext(connection) as queries:
        handled = run_due(order)
    return handled, [query["sql"] for query in queries.captured_queries]


def test_charge_to_pick_takes_three_commits(catalogue):
    """Charge, reserve, label and opening the pick: claim, apply + reserve + claim, apply + pick."""
    with clock.frozen():
        order = place_order()
        handled, sql = run_counted(order)

    order.refresh_from_db()
    assert (handled, order.state) == (4, OrderState.AWAITING_PICK)
    assert sql.count("COMMIT") == 3
    attempts = StepAttempt.objects.filter(process_id=order.pk).order_by("id")
    assert [(a.step, a.outcome) for a in attempts] == [
        ("charge_payment", AttemptOutcome.SUCCEEDED),
        ("reserve_inventory", AttemptOutcome.SUCCEEDED),
        ("create_label", AttemptOutcome.SUCCEEDED),
        ("pick", AttemptOutcome.SUCCEEDED),
    ]


def test_steps_stay_within_their_statement_budget(catalogue, django_assert_max_num_queries):
    """Four steps in one pass, the domain's writes and guards included, in 40 statements (69, then
    50 before each transaction wrote the row, its journal and its attempts in one statement)."""
    with clock.frozen():
        order = place_order()
        with django_assert_max_num_queries(40):
            assert run_due(order) == 4


def test_a_spent_chain_hands_the_order_back_in_its_last_transaction(catalogue, settings):
    """With two steps allowed, the pass stops after reserving and queues a wake-up with that commit."""
    settings.PROCESSES = {**settings.PROCESSES, "CHAIN_STEPS": 2}
    with clock.frozen():
        order = place_order()
        queued = OrmQ.objects.count()
        handled, sql = run_counted(order)

    order.refresh_from_db()
    assert (handled, order.state, order.step) == (2, OrderState.INVENTORY_RESERVED, "create_label")
    assert sql.count("COMMIT") == 2
    assert order.enqueued_at == order.next_run_at
    wakeups = [q.task for q in OrmQ.objects.order_by("id")][queued:]
    assert [(w["func"], w["args"][1]) for w in wakeups] == [("processes.tasks.run_process", str(order.pk))]


def test_a_failing_record_after_a_call_leaves_nothing_and_is_retried(catalogue, monkeypatch):
    """A record that wrote, then failed, is rolled back whole; the attempt fails and is retried."""
    record = payments.payment_record_charge

    def writes_then_fails(*, order, charge):
        record(order=order, charge=charge)
        raise RuntimeError("the ledger is full")

    monkeypatch.setattr(payments, "payment_record_charge", writes_then_fails)
    with clock.frozen():
        order = place_order()
        assert run_due(order) == 1

        order.refresh_from_db()
        assert (order.state, order.step, order.lease_owner) == (OrderState.RECEIVED, "charge_payment", "")
        assert not Payment.objects.filter(order=order).exists()
        (attempt,) = StepAttempt.objects.filter(process_id=order.pk)
        assert (attempt.outcome, attempt.error_class) == (AttemptOutcome.FAILED, "builtins.RuntimeError")
        events = ProcessEvent.objects.filter(process_id=order.pk)
        assert not events.filter(to_state=OrderState.PAYMENT_CHARGED).exists()
        assert events.filter(kind=EventKind.RETRY_SCHEDULED).count() == 1

        monkeypatch.setattr(payments, "payment_record_charge", record)
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    assert payment_ledger(order)["charges"] == 1
    assert Payment.objects.filter(order=order).count() == 1


def test_the_engine_writes_only_the_fields_a_step_changed(catalogue):
    """The claim's UPDATE sets the lease and the attempt count, not every column of the order."""
    with clock.frozen():
        order = place_order()
        _, sql = run_counted(order)

    # The row's UPDATE goes alone or as a part of the transaction's one statement (step_writes).
    claim_update = next(
        m[1] for s in sql if (m := re.search(r'UPDATE "fulfillment_order" SET (.*?) WHERE', s))
    )
    columns = set(re.findall(r'"(\w+)" = ', claim_update))
    expected = {"attempts", "fence", "lease_owner", "lease_until", "next_run_at", "updated_at"}
    assert columns == expected


def test_an_apply_finishes_its_attempt_and_starts_the_next_in_one_statement(catalogue, monkeypatch):
    """The charge's row finished and the label's started go in one statement, committed before
    the label's call: a worker killed in that call leaves its running attempt for recovery."""

    class Killed(BaseException):
        """The worker dies during the label's call (not an error its policy would classify)."""

    perform = runner.perform

    def dies_at_the_label(claim):
        if claim.step.name == "create_label":
            raise Killed
        return perform(claim)

    monkeypatch.setattr(runner, "perform", dies_at_the_label)
    with clock.frozen():
        order = place_order()
        with CaptureQueriesContext(connection) as queries, pytest.raises(Killed):
            run_due(order)
        attempt_sql = [q["sql"] for q in queries.captured_queries if '"processes_stepattempt"' in q["sql"]]
        writes = [s for s in attempt_sql if not s.startswith("SELECT")]
        assert len(writes) == 2  # the charge's claim, then the apply that claims the label
        finishes, starts = 'UPDATE "processes_stepattempt"', 'INSERT INTO "processes_stepattempt"'
        assert starts in writes[0] and finishes not in writes[0]
        assert finishes in writes[1] and starts in writes[1]

        order.refresh_from_db()
        attempts = StepAttempt.objects.filter(process_id=order.pk).order_by("id")
        assert [(a.step, a.outcome) for a in attempts] == [
            ("charge_payment", AttemptOutcome.SUCCEEDED),
            ("reserve_inventory", AttemptOutcome.SUCCEEDED),
            ("create_label", AttemptOutcome.RUNNING),
        ]
        label = attempts.last()
        assert (label.worker, label.fence) == (order.lease_owner, order.fence)
        assert attempts.first().result is not None  # the charge's answer, kept as the UPDATE wrote it

        monkeypatch.setattr(runner, "perform", perform)
        clock.advance(order.lease_until - clock.now() + timedelta(seconds=1))
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    label_attempts = StepAttempt.objects.filter(process_id=order.pk, step="create_label").order_by("id")
    assert [a.outcome for a in label_attempts] == [AttemptOutcome.ABANDONED, AttemptOutcome.SUCCEEDED]
