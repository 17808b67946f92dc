"""The database broker's pusher takes one task while the queue is short, several under load."""

import pytest
from django_q.conf import Conf

from processes import orm_broker
from processes.worker_heartbeat import OrmBroker

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker(monkeypatch):
    """The configured broker, on a queue of its own, without the empty queue's pause."""
    monkeypatch.setattr(orm_broker.time, "sleep", lambda seconds: None)
    return OrmBroker(list_key="test-orm-broker-take")


def test_a_take_asks_for_more_while_takes_come_back_full(broker, monkeypatch):
    """One task a take while the queue is short; twice as many after a full take, up to
    `bulk`; one again after a take that found fewer than it asked for."""
    monkeypatch.setattr(Conf, "BULK", 4)
    for n in range(10):
        broker.enqueue(f"task {n}")
    sizes = []
    while tasks := broker.dequeue():
        sizes.append(len(tasks))
    assert sizes == [1, 2, 4, 3]
    broker.enqueue("one more")
    broker.enqueue("and another")
    assert len(broker.dequeue()) == 1
