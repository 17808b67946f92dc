"""The admission's reads, each a statement written once: the circuit, the row a queryset reads
and never a remembered one (a circuit another connection opens or closes counts at the next
call); the health, from the calls a queryset would count (another worker's failures included)."""

import threading
import uuid
from datetime import timedelta

from django.db import connections, transaction

from fulfillment.models import Order
from fulfillment.workflow import ORDER_WORKFLOW
from processes import clock
from processes.flow import admission
from processes.flow.circuit_read import circuit_find
from processes.flow.health import health
from processes.models.flow import Circuit, CircuitState
from processes.models.journal import AttemptOutcome, StepAttempt
from processes.models.process import Hold
from processes.policies import CircuitPolicy
from tests.conftest import ENGINE_DB
from tests.factories import place_order

pytestmark = ENGINE_DB
LABEL = Order._meta.label_lower
CHARGE = ORDER_WORKFLOW.step("charge_payment")


def in_another_connection(work) -> None:
    """Run `work` in a thread of its own, on its own connection, committed when it returns."""
    errors = []

    def run():
        try:
            with transaction.atomic():
                work()
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive() and not errors, errors


def admitted(order: Order, now) -> str:
    """What the admission answers for the order's charge, under its row's lock as the runner asks."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        verdict = admission.admit(order, CHARGE, now).verdict
        order.save()
    return verdict


def test_a_step_that_never_failed_has_no_circuit_row():
    assert circuit_find(label=LABEL, step="charge_payment", key="") is None


def test_the_circuit_read_is_the_row_a_queryset_reads():
    """Every field as the ORM gives it (dates aware, the probe's id a UUID), and only the row
    of the key asked for."""
    now = clock.now()
    Circuit.objects.create(process_type=LABEL, step="create_label", key="OTHER")
    made = Circuit.objects.create(
        process_type=LABEL,
        step="create_label",
        key="ACME-1",
        state=CircuitState.HALF_OPEN,
        incident_since=now - timedelta(minutes=5),
        reason="10 of the last 10 calls failed",
        probe_at=now,
        trips=2,
        probe_process=uuid.uuid4(),
        probe_until=now + timedelta(seconds=20),
        probe_failures=1,
    )

    read = circuit_find(label=LABEL, step="create_label", key="ACME-1")

    expected = Circuit.objects.get(pk=made.pk)
    fields = [field.attname for field in Circuit._meta.concrete_fields]
    assert {f: getattr(read, f) for f in fields} == {f: getattr(expected, f) for f in fields}
    assert isinstance(read.probe_process, uuid.UUID) and read.probe_at.tzinfo is not None
    assert not read._state.adding and read._state.db == "default"


def test_a_circuit_another_connection_opens_or_closes_counts_at_the_next_call(catalogue):
    """A worker admits a charge while the gateway's circuit is closed; another worker (another
    connection) opens it: the next charge is held at once, not after some time remembered; it
    closes: the next charge goes."""
    with clock.frozen():
        now = clock.now()
        first, second, third = place_order(), place_order(), place_order()
        assert admitted(first, now) == admission.GO

        def open_it():
            Circuit.objects.create(
                process_type=LABEL,
                step="charge_payment",
                state=CircuitState.OPEN,
                incident_since=now,
                probe_at=now + timedelta(seconds=30),
                trips=1,
            )

        in_another_connection(open_it)
        assert admitted(second, now) == admission.HELD
        assert Order.objects.get(pk=second.pk).held_by == Hold.CIRCUIT

        def close_it():
            Circuit.objects.filter(process_type=LABEL, step="charge_payment").update(
                state=CircuitState.CLOSED, closed_at=now, probe_at=None
            )

        in_another_connection(close_it)
        assert admitted(third, now) == admission.GO


def attempt(step="create_label", key="ACME-1", *, ago: float, outcome=AttemptOutcome.FAILED, **fields):
    """A finished (or running) attempt of the step's call, `ago` seconds ago."""
    StepAttempt.objects.create(
        process_type=LABEL,
        process_id=fields.pop("process_id", uuid.uuid4()),
        step=step,
        flow_key=key,
        attempt=1,
        idempotency_key=str(uuid.uuid4()),
        started_at=clock.now() - timedelta(seconds=ago),
        outcome=outcome,
        service_failed=outcome == AttemptOutcome.FAILED,
        **fields,
    )


def counted(seen) -> tuple:
    return (seen.calls, seen.failed_calls, seen.processes, seen.failing, seen.failed_in_a_row)


def test_the_health_counts_the_latest_finished_calls_of_its_step_and_key_in_the_window():
    """Newest first, at most `window_attempts`, none before the window or `since`, none still
    running, none of another step or key: the calls a queryset would count."""
    policy = CircuitPolicy(window_seconds=60, window_attempts=5, min_calls=5, min_processes=2, stop_run=5)
    with clock.frozen():
        one, other = uuid.uuid4(), uuid.uuid4()
        attempt(ago=50, outcome=AttemptOutcome.SUCCEEDED, process_id=one)  # sixth newest: left out
        attempt(ago=40, process_id=one)
        attempt(ago=30, outcome=AttemptOutcome.SUCCEEDED, process_id=other)
        attempt(ago=20, process_id=other)
        for ago in (10, 5):
            attempt(ago=ago, process_id=one)
        attempt(ago=1, outcome=AttemptOutcome.RUNNING)  # not finished
        attempt(ago=90)  # before the window
        attempt(key="OTHER", ago=2)
        attempt(step="charge_payment", key="", ago=2)
        now = clock.now()

        seen = health(LABEL, "create_label", "ACME-1", policy, now)
        since = health(LABEL, "create_label", "ACME-1", policy, now, since=now - timedelta(seconds=25))

    assert counted(seen) == (5, 4, 2, 2, 3)
    assert counted(since) == (3, 3, 2, 2, 3)


def test_a_failure_another_worker_records_counts_at_the_next_health_read():
    """The health is read from the committed attempts, whoever wrote them: a failed call a
    worker on another connection records is in the next read."""
    policy = CircuitPolicy(window_seconds=60, window_attempts=20)
    with clock.frozen():
        attempt(ago=3, outcome=AttemptOutcome.SUCCEEDED)
        assert health(LABEL, "create_label", "ACME-1", policy, clock.now()).failed_calls == 0

        in_another_connection(lambda: attempt(ago=1))

        seen = health(LABEL, "create_label", "ACME-1", policy, clock.now())
    assert (seen.calls, seen.failed_calls, seen.failed_in_a_row) == (2, 1, 1)
