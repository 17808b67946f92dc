"""A runner's transaction writes what it changed in one statement: row, journal, attempts."""

import uuid
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.db.models.signals import post_save
from django.test.utils import CaptureQueriesContext

from fulfillment.proving.models import NoopProcess, NoopState
from fulfillment.proving.noop_workflow import NOOP_WORKFLOW
from processes import clock, row_lock, runner, step_writes
from processes.control import process_start
from processes.journal import Actor
from processes.models.journal import AttemptOutcome, EventKind, ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from processes.workflow import registry
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB
LABEL = NoopProcess._meta.label_lower


@pytest.fixture
def noop(monkeypatch):
    """The bench's no-op workflow, known to the engine for this test only."""
    monkeypatch.setitem(registry._workflows, (LABEL, NOOP_WORKFLOW.version), NOOP_WORKFLOW)
    process = NoopProcess()
    process_start(process=process, actor=Actor("client", "test"), version=NOOP_WORKFLOW.version)
    return process


def test_a_no_op_workflow_takes_a_lock_and_a_write_per_transaction(noop):
    """Five calls in six transactions: each locks the row, then writes the row, its journal
    and its attempt rows in one statement, then commits (12 statements, was 23)."""
    with CaptureQueriesContext(connection) as queries:
        assert runner.run_process(LABEL, str(noop.pk)) == 5
    sql = [query["sql"] for query in queries.captured_queries]

    assert sql.count("COMMIT") == 6
    statements = [s for s in sql if s not in ("COMMIT", "BEGIN")]
    assert len(statements) == 12
    assert all(s.startswith("SELECT") and "FOR UPDATE" in s for s in statements[::2])
    writes = statements[1::2]
    assert all('UPDATE "proving_noopprocess"' in s for s in writes)
    assert all('INSERT INTO "processes_processevent"' in s for s in writes[1:])  # each transition
    noop.refresh_from_db()
    assert (noop.state, noop.run_status) == (NoopState.DONE, RunStatus.FINISHED)


def test_what_the_one_statement_wrote_is_what_the_orm_would_have(noop):
    """The attempts start and finish with their fields, the journal has every transition, the
    row's columns are those the steps set."""
    runner.run_process(LABEL, str(noop.pk))

    attempts = StepAttempt.objects.filter(process_id=noop.pk).order_by("id")
    assert [(a.step, a.attempt, a.outcome) for a in attempts] == [
        (step.name, 1, AttemptOutcome.SUCCEEDED) for step in NOOP_WORKFLOW.steps
    ]
    assert all(a.finished_at >= a.started_at and a.duration_ms is not None for a in attempts)
    assert len({a.fence for a in attempts}) == 5 and attempts.last().fence == 5
    events = ProcessEvent.objects.filter(process_id=noop.pk, kind=EventKind.TRANSITION).order_by("id")
    assert [e.to_state for e in events] == [
        NoopState.STARTED,
        NoopState.ONE,
        NoopState.TWO,
        NoopState.THREE,
        NoopState.FOUR,
        NoopState.DONE,
    ]
    noop.refresh_from_db()
    assert noop.completed_steps == [step.name for step in NOOP_WORKFLOW.steps]
    assert (noop.lease_owner, noop.lease_until, noop.next_run_at, noop.step) == ("", None, None, "")


def test_the_row_is_sent_its_post_save_with_the_fields_it_changed(noop):
    """Receivers of the process's post_save hear of the engine's saves as of any save."""
    heard = []

    def receiver(sender, instance, created, update_fields, **kwargs):
        heard.append((instance.pk, created, update_fields))

    post_save.connect(receiver, sender=NoopProcess)
    try:
        runner.run_process(LABEL, str(noop.pk))
    finally:
        post_save.disconnect(receiver, sender=NoopProcess)

    assert len(heard) == 6 and {(pk, created) for pk, created, _ in heard} == {(noop.pk, False)}
    assert all("updated_at" in fields and "state" not in fields for *_, fields in heard[:1])
    assert all("state" in fields for *_, fields in heard[1:])


def test_a_row_not_under_tracking_is_saved_whole_by_the_orm(noop):
    """A row the engine did not load itself has no tracked values: the ORM saves it whole."""
    row = NoopProcess.objects.get(pk=noop.pk)
    row.last_error = "set by hand"
    with clock.frozen():
        step_writes.save(row)
        row.refresh_from_db()
        assert (row.last_error, row.updated_at) == ("set by hand", clock.now())


def test_a_row_holding_an_expression_is_saved_by_the_orm(noop):
    """An F() expression is the ORM's to write: the row is saved as Model.save saves it."""
    with transaction.atomic():
        row = row_lock.lock(NoopProcess, noop.pk)
        row.track_changes()
        row.attempts = F("attempts") + 3
        step_writes.save(row)
    row.refresh_from_db()
    assert row.attempts == 3


def test_the_lock_refuses_a_row_that_is_not_there_and_the_claim_one_not_due(noop):
    """Locking a missing row raises DoesNotExist; a claim finds nothing before the row is due."""
    with transaction.atomic(), pytest.raises(NoopProcess.DoesNotExist):
        row_lock.lock(NoopProcess, uuid.uuid4())
    with transaction.atomic():
        assert row_lock.claim_due(NoopProcess, noop.pk, noop.next_run_at - timedelta(seconds=1)) is None
        claimed = row_lock.claim_due(NoopProcess, noop.pk, noop.next_run_at)
        assert (claimed.pk, claimed.state, claimed.completed_steps) == (noop.pk, NoopState.STARTED, [])
