"""Wake-ups go through one broker per process, not a new one (a new Redis client) per wake-up."""

import pytest
from django_q.models import OrmQ

from processes import wakeup

pytestmark = pytest.mark.django_db


@pytest.fixture
def brokers_made(monkeypatch):
    monkeypatch.setattr(wakeup, "_brokers", {})
    made = []
    real = wakeup.get_broker

    def counting():
        made.append(real())
        return made[-1]

    monkeypatch.setattr(wakeup, "get_broker", counting)
    return made


def test_wakeups_share_the_process_broker_and_are_all_delivered(brokers_made):
    before = OrmQ.objects.count()
    wakeup.send_wakeups("fulfillment.order", ["a", "b"])
    wakeup.send_wakeups("fulfillment.order", ["c"])
    assert len(brokers_made) == 1
    tasks = [q.task for q in OrmQ.objects.order_by("id")][before:]
    assert [(t["func"], t["args"]) for t in tasks] == [
        (wakeup.RUN_PROCESS_TASK, ("fulfillment.order", pk)) for pk in ("a", "b", "c")
    ]


def test_a_forked_process_makes_its_own_broker(brokers_made, monkeypatch):
    wakeup.send_wakeups("fulfillment.order", ["a"])
    monkeypatch.setattr(wakeup.os, "getpid", lambda: -1)  # as a child after fork sees itself
    wakeup.send_wakeups("fulfillment.order", ["b"])
    assert len(brokers_made) == 2
