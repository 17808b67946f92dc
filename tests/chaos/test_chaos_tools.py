"""The soak's instruments: the message dropper judges each message once, and busy workers are
found by the leases they hold."""

import os
import random
import subprocess
import sys

from django_q.models import OrmQ
from django_q.tasks import async_task

from fulfillment import chaos
from fulfillment.models import Order
from processes.models import SweeperLease
from processes.sweeper import LOOP_LEASE
from tests.conftest import ENGINE_DB
from tests.factories import place_order

pytestmark = ENGINE_DB


def test_orm_dropper_deletes_a_share_of_waiting_messages_each_judged_once():
    for n in range(40):
        async_task("math.floor", n)
    dropper = chaos.OrmMessageDropper(0.5, random.Random(1))

    first = dropper.drop()
    assert 5 < first < 35 and OrmQ.objects.count() == 40 - first
    assert dropper.drop() == 0  # the survivors were judged already
    async_task("math.floor", 99)
    assert dropper.drop() in (0, 1) and dropper.dropped >= first


def test_orm_dropper_leaves_messages_a_cluster_has_taken():
    async_task("math.floor", 1)
    OrmQ.objects.update(lock="2999-01-01T00:00Z")  # as the pusher does when it takes a message

    assert chaos.OrmMessageDropper(1.0, random.Random(1)).drop() == 0
    assert OrmQ.objects.count() == 1


def test_busy_workers_are_the_holders_of_step_and_sweeper_leases(catalogue):
    order = place_order()
    Order.objects.filter(pk=order.pk).update(lease_owner="host:4242:abcd")
    SweeperLease.objects.update_or_create(name=LOOP_LEASE, defaults={"owner": "host:4343:ef01"})

    assert chaos.busy_workers() == {4242: "step", 4343: "sweeper"}


def test_children_are_read_from_proc():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in chaos.children(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert chaos.children(2**22 + 1) == []  # no such process
