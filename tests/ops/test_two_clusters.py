"""Two worker machines on one Redis broker share the work, and no step runs twice.

Two `qcluster` processes (each standing for a machine: its own process group, two workers)
take wake-ups from the same Redis queue. Orders placed through Redis complete; their step
attempts were run by workers of both clusters, and each step of each order was attempted once.
"""

import collections
import re
from pathlib import Path

import pytest

from fulfillment.models import Order
from processes.models.journal import AttemptOutcome, StepAttempt
from processes.models.process import RunStatus
from tests.cluster.conftest import manage, wait_for
from tests.conftest import ENGINE_DB
from tests.factories import payment_ledger

pytestmark = [pytest.mark.cluster, ENGINE_DB]

ORDERS = 16
STEPS = {"charge_payment", "reserve_inventory", "create_label", "pick", "send_confirmation"}
PLACE_ORDERS = (
    f"from tests.factories import place_order\nfor _ in range({ORDERS}): print('placed', place_order().pk)"
)


def processes_in_group(pgid: int) -> set[int]:
    """Pids of the live processes of one process group (a cluster: guard, pusher, workers...)."""
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        if int(fields[2]) == pgid:
            pids.add(int(stat.parent.name))
    return pids


def test_two_clusters_share_the_work_without_doubling_it(spare_redis, catalogue, start_cluster):
    env = {"REDIS_URL": spare_redis, "Q_CLUSTER_NAME": "ops-two-clusters", "Q_WORKERS": "3"}
    first = start_cluster(picker=True, **env)
    second = start_cluster(sweeper=False, **env)
    members: dict[int, str] = {}

    def note_members():
        for name, cluster in (("first", first), ("second", second)):
            members.update(dict.fromkeys(processes_in_group(cluster.popen.pid), name))

    note_members()
    placed = manage("shell", "-c", PLACE_ORDERS, env=first.env)
    ids = re.findall(r"placed ([0-9a-f-]{36})", placed)
    assert len(ids) == ORDERS, placed

    def all_finished():
        note_members()
        return Order.objects.filter(pk__in=ids, run_status=RunStatus.FINISHED).count() == ORDERS

    wait_for(all_finished, what=f"{ORDERS} orders to finish on two clusters", timeout=90, pick=False)

    attempts = list(StepAttempt.objects.filter(process_id__in=ids))
    by_cluster = collections.Counter(members.get(int(a.worker.split(":")[1]), "unknown") for a in attempts)
    assert by_cluster["first"] > 0 and by_cluster["second"] > 0, by_cluster
    assert by_cluster["unknown"] == 0, by_cluster
    per_step = collections.Counter((a.process_id, a.step) for a in attempts)
    assert set(per_step.values()) == {1}, [key for key, n in per_step.items() if n > 1]
    assert {a.outcome for a in attempts} == {AttemptOutcome.SUCCEEDED}
    for order in Order.objects.filter(pk__in=ids):
        assert {a.step for a in attempts if a.process_id == order.pk} == STEPS
        assert payment_ledger(order)["charges"] == 1
    print(f"step attempts per cluster: {dict(by_cluster)}")
