"""The database broker's one-statement dequeue keeps django-q2's at-least-once delivery.

Races use real connections: a thread has its own, and a second connection holds a transaction
while this one dequeues, as in Django's own select_for_update tests.
"""

import threading
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ

from fulfillment.proving.models import NoopProcess
from fulfillment.proving.noop_workflow import noop_workflow_register
from processes import clock, orm_broker, wakeup
from processes.control import process_start
from processes.journal import Actor
from processes.worker_heartbeat import OrmBroker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(monkeypatch):
    """The configured broker, on a queue of its own, without the empty queue's pause."""
    monkeypatch.setattr(orm_broker.time, "sleep", lambda seconds: None)
    return OrmBroker(list_key="test-orm-broker")


def taken_ids(tasks) -> list[int]:
    return [pk for pk, _ in tasks or []]


def test_the_configured_broker_is_this_one():
    """Settings name the cheaper broker, and wake-ups ride on the caller's transaction."""
    assert isinstance(get_broker(), orm_broker.CheaperOrm)
    assert orm_broker.enqueues_commit_with("default")
    assert not orm_broker.enqueues_commit_with("simulators")


def test_a_task_is_taken_with_its_payload_and_locked_for_retry_seconds(broker):
    """Dequeue hands out the oldest waiting task with its payload and locks it for `retry`."""
    with clock.frozen():
        now = clock.now()
        first, second = broker.enqueue("first"), broker.enqueue("second")
        assert broker.dequeue() == [(first, "first")]
        assert OrmQ.objects.get(pk=first).lock == now + timedelta(seconds=Conf.RETRY)
        assert OrmQ.objects.get(pk=second).lock == now
        assert (broker.queue_size(), broker.lock_size()) == (1, 1)


def test_a_task_not_acknowledged_comes_back_after_retry(broker):
    """A taken task is not handed out again while its lock holds, and is once it has passed."""
    with clock.frozen():
        task = broker.enqueue("payload")
        assert taken_ids(broker.dequeue()) == [task]
        assert broker.dequeue() is None
        clock.advance(Conf.RETRY - 1)
        assert broker.dequeue() is None
        clock.advance(1)
        assert broker.dequeue() == [(task, "payload")]


def test_an_acknowledged_task_is_gone(broker):
    """Acknowledge deletes the task's row; nothing of it comes back."""
    with clock.frozen():
        task = broker.enqueue("payload")
        broker.dequeue()
        broker.acknowledge(task)
        clock.advance(Conf.RETRY + 1)
        assert broker.dequeue() is None
    assert not OrmQ.objects.filter(pk=task).exists()


def test_a_row_locked_by_another_transaction_is_skipped(broker):
    """A row another connection is taking (or deleting) is skipped, not waited for."""
    first, second = broker.enqueue("first"), broker.enqueue("second")
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("BEGIN")
            cursor.execute("SELECT id FROM django_q_ormq WHERE id = %s FOR UPDATE", [first])
            assert taken_ids(broker.dequeue()) == [second]
            assert broker.dequeue() is None  # the first is still locked
            cursor.execute("ROLLBACK")
        assert taken_ids(broker.dequeue()) == [first]
    finally:
        other.close()


def test_two_dequeuers_never_take_the_same_task(broker, monkeypatch):
    """Two connections dequeuing at once, several tasks a statement, share the tasks out."""
    monkeypatch.setattr(Conf, "BULK", 3)
    enqueued = {broker.enqueue(f"task {n}") for n in range(60)}
    taken: list[list[int]] = [[], []]
    start = threading.Barrier(2)

    def dequeue_all(mine: list[int]) -> None:
        start.wait()
        try:
            while tasks := broker.dequeue():
                mine.extend(taken_ids(tasks))
        finally:
            connection.close()

    threads = [threading.Thread(target=dequeue_all, args=(mine,)) for mine in taken]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = taken[0] + taken[1]
    assert sorted(everything) == sorted(enqueued)  # each once, none lost
    assert broker.lock_size() == 60


def test_connections_are_checked_at_most_once_a_second_and_at_once_after_an_error(monkeypatch):
    """django-q2 closes stale connections before every statement (and the next statement then
    sends a health check); this broker does it once a second, or at once after an error."""
    checks = []
    monkeypatch.setattr(orm_broker.db, "close_old_connections", lambda: checks.append(1))
    monkeypatch.setattr(orm_broker, "_checked_at", -orm_broker.CHECK_EVERY)
    broker = OrmBroker(list_key="test-orm-broker")
    for _ in range(5):
        broker.queue_size()
    assert len(checks) == 1
    connections["default"].errors_occurred = True
    try:
        broker.queue_size()
    finally:
        connections["default"].errors_occurred = False
    assert len(checks) == 2


def test_a_wake_up_rolls_back_with_its_transaction():
    """On the database broker a wake-up is written inside the transaction that starts the
    process: seen there before the commit, and gone with a rollback."""
    noop_workflow_register()

    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic():
        process = NoopProcess()
        process_start(process=process, actor=Actor.system(), version=1)
        (message,) = OrmQ.objects.all()  # before the commit, in the same transaction
        assert tuple(message.task["args"]) == (NoopProcess._meta.label_lower, str(process.pk))
        raise Refused
    assert not OrmQ.objects.exists() and not NoopProcess.objects.exists()


def test_elsewhere_a_wake_up_is_sent_after_the_commit(monkeypatch):
    """Where the broker cannot roll back with the database (Redis), the wake-up waits for the
    commit: none inside the transaction, one after it."""
    monkeypatch.setattr(orm_broker, "enqueues_commit_with", lambda alias: False)
    with transaction.atomic():
        wakeup.send_with_commit(NoopProcess, NoopProcess._meta.label_lower, ["1"])
        assert not OrmQ.objects.exists()
    (message,) = OrmQ.objects.all()
    assert tuple(message.task["args"]) == (NoopProcess._meta.label_lower, "1")
