"""Circuit breakers and redrives with real `qcluster` worker processes (issue 11).

tests/fulfillment/test_circuit_breaker.py runs one engine in-process under a controlled clock.
Here separate worker processes share nothing but the database: a step's circuit must open once
for all of them, and a redrive must survive the death of the worker that runs it.
"""

import contextlib
import os
import re
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ

from fulfillment.models import Order, OrderState
from fulfillment.notifications import confirmation_message_id
from fulfillment.simulators.calls import calls_refused
from fulfillment.simulators.carrier import labels_bulk
from fulfillment.simulators.models import SentMail
from fulfillment.simulators.outages import outage_set
from fulfillment.steps import SERVICE_CIRCUIT
from processes import clock
from processes.flow import operators
from processes.journal import Actor
from processes.models.flow import Circuit, CircuitEvent, CircuitEventKind, CircuitState, Redrive
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from processes.models.workers import SweeperLease
from tests.cluster.conftest import wait_for
from tests.conftest import ENGINE_DB
from tests.factories import drive, make_catalogue, place_order

pytestmark = [pytest.mark.cluster, ENGINE_DB]

LABEL = Order._meta.label_lower
OPERATOR = Actor("operator", "olga")
WORKERS_PER_CLUSTER = 2  # Q_WORKERS of tests.cluster.conftest.cluster_environment


class RowGate:
    """One row held locked by a second connection: whoever writes to it waits at the gate.

    The test closes and opens it to stop a redrive's task at a known point, between two of its
    batches, instead of hoping to catch it there.
    """

    def __init__(self, model, pk):
        table = connection.ops.quote_name(model._meta.db_table)
        self.lock_sql, self.pk = f"SELECT 1 FROM {table} WHERE id = %s FOR UPDATE", pk
        self.conn = connection.get_new_connection(connection.get_connection_params())
        self.pid = self.conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        self.conn.commit()

    def close(self) -> None:
        """Lock the row; if a writer holds it, this waits until the writer commits."""
        self.conn.execute(self.lock_sql, [self.pk])

    def open(self) -> None:
        self.conn.commit()

    def waiting(self) -> list[int]:
        """The database sessions that wait at the closed gate."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [self.pid]
            )
            return [row[0] for row in cursor.fetchall()]

    def shut_down(self) -> None:
        self.conn.close()


def one_batch_through(gate: RowGate, redrive: Redrive) -> list[int]:
    """Let the writer waiting at the gate through and close it behind, until the redrive has
    committed a batch; returns the sessions then waiting (its next batch, uncommitted)."""
    passed = Redrive.objects.filter(pk=redrive.pk, done__gt=0)
    for _ in range(5):  # the first writer at the gate may be a sweeper, not the redrive's task
        gate.open()
        gate.close()
        waiting = wait_for(gate.waiting, what="the redrive's next batch at the gate", pick=False, timeout=20)
        if passed.exists():
            return waiting
    raise AssertionError("no batch of the redrive got through the gate")


def sessions_ended(pids: list[int]) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", [pids])
        return cursor.fetchone()[0] == 0


def sweeper_running() -> bool:
    return SweeperLease.objects.filter(lease_until__gte=timezone.now()).exclude(owner="").exists()


def orders_out_of_retries_at_confirmation(count: int) -> list[Order]:
    """Orders that spent all their retries at send_confirmation while the mail service was down.

    Driven one at a time under a controlled clock, each more than the circuit's window after the
    one before: the window never holds failures of three orders, so the mail circuit stays
    closed and each order spends its own retries, as when mail fails now and then for a day.
    The clock runs a day behind, so that all of it lies before the real time the workers read.
    """
    gap = timedelta(seconds=SERVICE_CIRCUIT.window_seconds + 1)
    orders = []
    with clock.frozen(at=timezone.now() - timedelta(days=1)):
        outage_set(service="mail", on=True, by="test")
        for _ in range(count):
            orders.append(drive(place_order(lines=(("MUG-001", 1),))))
            clock.advance(gap)
        outage_set(service="mail", on=False, by="test")
        assert clock.now() < timezone.now()
    # What the driving enqueued (wake-ups, sweeper loops) was for the workers of a day ago: it
    # would have been consumed long since, and must not keep today's workers busy.
    OrmQ.objects.all().delete()
    return orders


def test_redrive_of_100_orders_survives_a_killed_cluster_and_a_second_start(start_cluster):
    """A redrive of 100 orders that need attention runs in the background in batches. The
    cluster running it is killed between two batches (the batch in flight is rolled back);
    a new cluster's sweeper starts it again once its heartbeat is stale. Starting it a second
    time, while it runs and while its worker is dead, returns the same redrive. It ends with
    done == 100, every order completes, and each got one redrive line in its journal and one
    confirmation mail."""
    make_catalogue(on_hand=1000)
    orders = orders_out_of_retries_at_confirmation(100)
    ids = [order.pk for order in orders]
    stuck = Order.objects.filter(pk__in=ids, needs_attention=True, step="send_confirmation", attempts=8)
    assert stuck.count() == 100
    assert not Circuit.objects.exclude(state=CircuitState.CLOSED).exists()
    assert not SentMail.objects.filter(reference__in=[str(pk) for pk in ids]).exists()

    workers = {"REDRIVE_BATCH": "5", "REDRIVE_STALE": "3", "REDELIVER_AFTER": "3"}
    crashing = start_cluster(**workers)
    wait_for(sweeper_running, what="the first cluster's sweeper", pick=False)
    redrive, started = operators.start_redrive(
        LABEL, "send_confirmation", actor=OPERATOR, reason="mail is back"
    )
    assert started and redrive.total == 100
    gate = RowGate(Redrive, redrive.pk)
    try:
        gate.close()
        wait_for(gate.waiting, what="the redrive's first batch at the gate", pick=False, timeout=20)
        clicked = operators.start_redrive(LABEL, "send_confirmation", actor=OPERATOR, reason="click")
        assert (clicked[0].pk, clicked[1]) == (redrive.pk, False)
        in_flight = one_batch_through(gate, redrive)
        crashing.kill()
        gate.open()  # the dead worker's session wakes up, finds its client gone and rolls back
        wait_for(lambda: sessions_ended(in_flight), what="the killed worker's session to end", pick=False)
    finally:
        gate.shut_down()
    redrive.refresh_from_db()
    assert 0 < redrive.done < 100 and redrive.finished_at is None
    assert stuck.count() == 100 - redrive.done  # the counter matches what the batches committed

    clicked = operators.start_redrive(LABEL, "send_confirmation", actor=OPERATOR, reason="click again")
    assert (clicked[0].pk, clicked[1]) == (redrive.pk, False)
    restarted = start_cluster(**workers)
    finished = Redrive.objects.filter(pk=redrive.pk, finished_at__isnull=False)
    wait_for(finished.exists, what="the redrive to finish", pick=False, timeout=30)
    completed = Order.objects.filter(pk__in=ids, run_status=RunStatus.FINISHED)
    # The redriven orders go at the circuit's release rate, as after an outage.
    wait_for(lambda: completed.count() == 100, what="every order to complete", pick=False, timeout=60)

    redrive.refresh_from_db()
    assert (redrive.total, redrive.done) == (100, 100)
    assert Redrive.objects.count() == 1
    # Started again by a sweeper (the new cluster's, or the old one's if the gate held it long).
    assert f"redrive {redrive.pk} stopped answering; starting it again" in crashing.log() + restarted.log()
    outcomes = Counter(Order.objects.filter(pk__in=ids).values_list("state", "needs_attention"))
    assert outcomes == {(OrderState.COMPLETED, False): 100}
    redriven = ProcessEvent.objects.filter(kind=EventKind.OPERATOR_ACTION, reason__contains="redrive")
    assert Counter(redriven.values_list("process_id", flat=True)) == {pk: 1 for pk in ids}
    mails = SentMail.objects.filter(reference__in=[str(pk) for pk in ids]).values_list(
        "reference", "message_id"
    )
    assert sorted(mails) == sorted((str(o.pk), confirmation_message_id(o)) for o in orders)


def circuit_events(kind: str) -> int:
    return CircuitEvent.objects.filter(circuit__step="create_label", kind=kind).count()


def clusters_that_called(step: str, clusters) -> set[int]:
    """Which clusters (by process group) the step's attempts came from, read off their workers."""
    pids = {
        int(re.match(r"[^:]*:(\d+):", worker).group(1))
        for worker in StepAttempt.objects.filter(step=step).values_list("worker", flat=True).distinct()
    }
    groups = set()
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):  # a worker django-q has since replaced
            groups.add(os.getpgid(pid))
    return groups & {cluster.popen.pid for cluster in clusters}


def test_two_clusters_share_one_circuit(catalogue, start_cluster):
    """Two clusters on one database, the carrier down, 30 orders: the create_label circuit
    opens once for both, with one alert, and the carrier refuses no more calls than the
    circuit lets fail before it opens (its latest `stop_run` calls in a row, from 30 orders)
    plus the probes and the calls already in flight (one per worker). Once the carrier is back
    the probe closes the circuit, once, and every order completes with exactly one live label."""
    outage_set(service="carrier", on=True, by="test")
    # Calls overlap (several workers are inside one at a time); the "closed" alert goes out
    # 1 s after the circuit closes instead of 2 min.
    slow = {"SIM_LATENCY_MS": "100", "CIRCUIT_SETTLE": "1"}
    clusters = [start_cluster(**slow), start_cluster(sweeper=False, **slow)]
    wait_for(lambda: all("] running." in c.log() for c in clusters), what="both clusters", pick=False)
    orders = [place_order() for _ in range(30)]
    ids = [order.pk for order in orders]

    held = Order.objects.filter(pk__in=ids, step="create_label", held_by="circuit")
    wait_for(lambda: held.count() == 30, what="every order to wait at create_label", pick=False, timeout=30)
    circuit = Circuit.objects.get(process_type=LABEL, step="create_label")
    assert circuit.state == CircuitState.OPEN
    refused = calls_refused("carrier", reason="outage")
    in_flight = len(clusters) * WORKERS_PER_CLUSTER
    most = SERVICE_CIRCUIT.stop_run + circuit_events(CircuitEventKind.PROBE) + in_flight
    assert set(refused) == {"create_label"}
    assert SERVICE_CIRCUIT.min_processes <= refused["create_label"] <= most, refused
    assert circuit_events(CircuitEventKind.OPENED) == 1
    assert circuit_events(CircuitEventKind.ALERT) == 1
    assert SentMail.objects.filter(subject__contains="create_label circuit opened").count() == 1

    outage_set(service="carrier", on=False, by="test")
    completed = Order.objects.filter(pk__in=ids, run_status=RunStatus.FINISHED)
    wait_for(
        lambda: completed.count() == 30,
        what="every order to complete",
        timeout=SERVICE_CIRCUIT.cooldowns()[0] + 45,
    )

    assert clusters_that_called("create_label", clusters) == {cluster.popen.pid for cluster in clusters}
    outcomes = Counter(Order.objects.filter(pk__in=ids).values_list("state", "needs_attention"))
    assert outcomes == {(OrderState.COMPLETED, False): 30}
    assert labels_bulk(str(pk) for pk in ids) == {str(pk): {"live": 1, "voided": 0} for pk in ids}
    circuit.refresh_from_db()
    assert circuit.state == CircuitState.CLOSED
    wait_for(lambda: circuit_events(CircuitEventKind.ALERT) == 2, what="the closed alert", pick=False)
    assert Counter(CircuitEvent.objects.filter(circuit=circuit).values_list("kind", flat=True)) == {
        CircuitEventKind.OPENED: 1,
        CircuitEventKind.PROBE: 1,
        CircuitEventKind.CLOSED: 1,
        CircuitEventKind.ALERT: 2,
    }
    assert calls_refused("carrier", reason="outage") == refused
