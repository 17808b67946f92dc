"""Inside a cluster, the database broker's acknowledgements ride on the pusher's next take.

The monitor is a process forked from the one that made the broker; here a forked child plays
it (os.fork, or multiprocessing's fork context when the child must end as a monitor does), and
this process plays the pusher. Tasks are django-q2's `OrmQ` rows, committed (the children see
them through their own connections).
"""

import multiprocessing
import os

import pytest
from django.db import connections
from django_q.conf import Conf
from django_q.models import OrmQ

from processes import clock, orm_acks, orm_broker
from processes.worker_heartbeat import OrmBroker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(monkeypatch):
    """The configured broker, on a queue of its own, without the empty queue's pause; its pipe
    holds nothing an earlier test left."""
    monkeypatch.setattr(orm_broker.time, "sleep", lambda seconds: None)
    broker = OrmBroker(list_key="test-orm-acks")
    orm_acks.take_handed()
    return broker


def acknowledge_in_a_child(broker, *task_ids: int) -> None:
    """Acknowledge `task_ids` in a forked child that then vanishes (os._exit, as a killed
    monitor would: nothing of it runs at exit)."""
    pid = os.fork()
    if pid == 0:  # the child: touches no database connection, only the pipe
        try:
            for task_id in task_ids:
                broker.acknowledge(task_id)
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_an_acknowledgement_from_the_monitor_is_deleted_by_the_next_take(broker):
    """The monitor's acknowledgement sends no statement: the row stays until the pusher's next
    dequeue, which deletes it and takes the next waiting task in the same statement."""
    first, second = broker.enqueue("first"), broker.enqueue("second")
    assert broker.dequeue() == [(first, "first")]

    acknowledge_in_a_child(broker, first)
    assert OrmQ.objects.filter(pk=first).exists()

    assert broker.dequeue() == [(second, "second")]
    assert not OrmQ.objects.filter(pk=first).exists()


def test_an_empty_take_still_deletes_the_acknowledged(broker):
    """With nothing waiting, the pusher's poll deletes what was acknowledged since its last one."""
    tasks = [broker.enqueue(f"task {n}") for n in range(3)]
    while broker.dequeue():
        pass
    acknowledge_in_a_child(broker, *tasks)
    assert broker.dequeue() is None
    assert not OrmQ.objects.exists()


def test_an_acknowledged_task_past_its_lock_is_deleted_not_taken_again(broker):
    """A task that ran past its lock and was then acknowledged is deleted by the take that could
    have handed it out again, and is not handed out."""
    with clock.frozen():
        task = broker.enqueue("slow")
        assert broker.dequeue() == [(task, "slow")]
        clock.advance(Conf.RETRY + 1)
        acknowledge_in_a_child(broker, task)
        assert broker.dequeue() is None
    assert not OrmQ.objects.exists()


def _acknowledge_and_end(task_id: int) -> None:
    OrmBroker(list_key="test-orm-acks").acknowledge(task_id)


def test_a_monitor_that_ends_deletes_what_no_take_has(broker):
    """A cluster stops its pusher before its monitor: the acknowledgements the monitor makes
    after that are deleted by the monitor itself as it ends."""
    task = broker.enqueue("last")
    broker.dequeue()
    connections.close_all()  # as django-q2 does before it forks: the child connects anew
    monitor = multiprocessing.get_context("fork").Process(target=_acknowledge_and_end, args=(task,))
    monitor.start()
    monitor.join(timeout=30)
    assert monitor.exitcode == 0
    assert not OrmQ.objects.filter(pk=task).exists()


def test_outside_a_cluster_an_acknowledgement_is_deleted_at_once(broker):
    """In the process that made the broker (a shell, a test, a sync run) nobody reads the pipe:
    acknowledge deletes at once."""
    task = broker.enqueue("payload")
    broker.dequeue()
    broker.acknowledge(task)
    assert not OrmQ.objects.filter(pk=task).exists()
    assert orm_acks.take_handed() == []


def test_a_full_pipe_falls_back_to_deleting_at_once(broker, monkeypatch):
    """When the pusher has not read the pipe for thousands of tasks and it is full, the monitor
    deletes the task itself rather than wait."""
    task = broker.enqueue("payload")
    broker.dequeue()
    monkeypatch.setattr(orm_acks._pipe, "opener", os.getpid() + 1)  # as if forked from it

    def full(fd, data):
        raise BlockingIOError

    monkeypatch.setattr(orm_acks.os, "write", full)
    broker.acknowledge(task)
    assert not OrmQ.objects.filter(pk=task).exists()
