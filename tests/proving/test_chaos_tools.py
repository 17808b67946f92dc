"""The soak's instruments: the message dropper judges each message once, busy workers are
found by the leases they hold, the outage window takes a service down and back, and the kills
stop for the last tenth of the orders."""

import os
import random
import signal
import subprocess
import sys
import time

import pytest
from django_q.models import OrmQ
from django_q.tasks import async_task

from fulfillment.gateways import ServiceUnavailable
from fulfillment.models import Order
from fulfillment.proving import chaos
from fulfillment.proving.invariants import INVARIANTS
from fulfillment.proving.soak import SoakConfig, _draining
from fulfillment.proving.soak_report import SoakReport
from fulfillment.simulators.carrier import CarrierSimulator
from fulfillment.simulators.outages import outage_set, service_down
from processes.cluster_processes import children, cluster_processes, descendants
from processes.models.workers import SweeperLease
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


def test_children_and_descendants_are_read_from_proc():
    sleeper = "import time; time.sleep(30)"
    script = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', {sleeper!r}]); {sleeper}"
    child = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 10
        while len(descendants(child.pid)) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in children(os.getpid())
        grandchildren = descendants(child.pid)
        assert len(grandchildren) == 1 and grandchildren[0] in descendants(os.getpid())
        assert [p.role for p in cluster_processes(child.pid)] == ["other"]  # not named by django-q2
    finally:
        for pid in descendants(child.pid):
            os.kill(pid, signal.SIGKILL)
        child.kill()
        child.wait()
    assert children(2**22 + 1) == []  # no such process


def test_outage_window_goes_down_once_a_fifth_is_placed_and_one_is_done():
    """10 orders: not before 2 are placed and 1 is at rest; back up after its seconds."""
    window = chaos.OutageWindow("carrier", 0.0, orders=10)

    assert window.tick(placed=1, at_rest=1, elapsed=1.0) is None
    assert window.tick(placed=10, at_rest=0, elapsed=1.0) is None
    assert window.tick(placed=2, at_rest=1, elapsed=2.0) == "carrier is down for 0s"
    assert service_down("carrier")
    with pytest.raises(ServiceUnavailable):
        CarrierSimulator().create_label(reference="1", address={}, weight_grams=1, idempotency_key="k")
    assert window.tick(placed=10, at_rest=5, elapsed=3.0) == "carrier is back up"

    assert not service_down("carrier") and window.end() is None
    summary = window.summary()
    assert (summary["began_after_seconds"], summary["refused"]) == (2.0, {"create_label": 1})


def test_outage_window_that_never_began_reports_so_and_reset_brings_the_service_up():
    outage_set(service="payment", on=True)
    window = chaos.OutageWindow("payment", 30.0, orders=10)

    window.reset()

    assert not service_down("payment")
    assert window.end() is None and window.summary() == {"service": "payment", "began": False}


def test_kills_stop_once_every_order_is_placed_and_a_tenth_at_most_still_moves():
    config = SoakConfig(orders=50)
    placed = [str(n) for n in range(50)]
    assert not _draining(config, placed[:49], set())  # one order still to place
    assert not _draining(config, placed, set(placed[:6]))
    assert _draining(config, placed, set(placed[:5]))


def test_the_report_says_when_the_kills_stopped():
    report = SoakReport(broker="orm", clusters=1, workers=3, faults="heavy", seed=0)
    report.kills = {"whole_cluster": 1, "sweeper_worker": 0, "worker_in_step": 2}
    report.violations = {invariant.name: [] for invariant in INVARIANTS}
    assert "kills done           3 (1 whole cluster, 0 sweeper worker, 2 worker in step)\n" in (
        "\n".join(report.lines()) + "\n"
    )
    report.kills_stopped_after = 36.0
    assert "2 worker in step), none after 36s" in "\n".join(report.lines())
    assert report.as_dict()["kills_stopped_after"] == 36.0
