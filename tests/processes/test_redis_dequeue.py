"""The Redis broker's dequeue takes up to TAKE_AT_MOST waiting tasks in one round trip."""

import uuid

import pytest
import redis

from processes import redis_dequeue
from processes.worker_heartbeat import RedisBroker
from tests.external_processes import redis_client_or_skip

REDIS_URL = "redis://127.0.0.1:6379/7"  # the cluster tests' database; a queue key of our own


@pytest.fixture
def broker(monkeypatch):
    client = redis_client_or_skip(REDIS_URL, "the Redis broker's dequeue is not tested")
    monkeypatch.setattr(RedisBroker, "get_connection", staticmethod(lambda list_key=None: client))
    made = RedisBroker(list_key=f"test-dequeue-{uuid.uuid4().hex}")
    yield made
    client.delete(made.list_key)


def test_waiting_tasks_come_out_several_at_a_time_in_order(broker):
    for n in range(6):
        broker.enqueue(f"task {n}")
    first, second = broker.dequeue(), broker.dequeue()
    assert [task for _, task in first] == [f"task {n}".encode() for n in range(redis_dequeue.TAKE_AT_MOST)]
    assert [task for _, task in second] == [b"task 4", b"task 5"]
    assert {ack for ack, _ in first + second} == {None}, "Redis acknowledges nothing"


def test_an_empty_queue_gives_nothing_after_its_wait(broker):
    assert broker.dequeue() is None


def test_a_redis_without_blmpop_is_asked_with_blpop(broker, monkeypatch):
    """Before Redis 7.0 BLMPOP is an unknown command: the broker falls back to one at a time."""

    def unknown(*args, **kwargs):
        raise redis.ResponseError("ERR unknown command 'BLMPOP'")

    monkeypatch.setattr(broker.connection, "blmpop", unknown)
    broker.enqueue("a")
    broker.enqueue("b")
    assert broker.dequeue() == [(None, b"a")]
    assert broker.one_at_a_time
    assert broker.dequeue() == [(None, b"b")]
