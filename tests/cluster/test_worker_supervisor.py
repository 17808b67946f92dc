"""A wedged worker cluster is found and replaced with no person, and its orders complete.

django-q2 #23, reproduced for real: each idle worker of a running cluster is killed; one of
them held the task queue's read lock, so the workers django-q2 starts in their place wait for
that lock forever, and the cluster takes tasks without running any. `run_workers` notices a
task waiting beside idle workers, kills the cluster (which ignores SIGTERM, django-q2 #346) and
starts a new one; the orders it had taken are recovered by the engine and complete once each.
The sweeper process beside the cluster is left running through the replacement. Told to stop,
the supervisor stops its cluster and its sweeper and leaves no process behind.
"""

import os
import signal

import pytest

from processes.cluster_processes import cluster_processes
from processes.models.workers import WorkerCluster, WorkerClusterState
from tests.cluster.conftest import Background, cluster_environment, manage, wait_for
from tests.cluster.test_real_cluster import assert_fulfilled_once, at_rest
from tests.conftest import ENGINE_DB
from tests.factories import place_order

pytestmark = [pytest.mark.cluster, ENGINE_DB]

# Shortened for the suite; the production default (30 s) is what the unit test of `diagnose`
# and `soak --faults infra` run with.
WEDGE_AFTER = "5"


@pytest.fixture
def supervised(transactional_db, tmp_path):
    env = cluster_environment(WORKER_WEDGE_AFTER=WEDGE_AFTER)
    manage("setup_schedules", env=env)
    supervisor = Background(["run_workers"], env, tmp_path / "run_workers.log")
    yield supervisor
    supervisor.stop()
    print(supervisor.log())


def running_cluster() -> WorkerCluster | None:
    return WorkerCluster.objects.filter(state=WorkerClusterState.RUNNING, workers_idle__gte=1).first()


def test_a_wedged_cluster_is_replaced_and_its_orders_complete(catalogue, supervised):
    wait_for(running_cluster, what="the supervised cluster to report an idle worker", pick=False)
    sweepers = [p.pid for p in cluster_processes(supervised.popen.pid) if p.role == "sweeper"]
    assert len(sweepers) == 1, "run_workers runs one sweeper process beside its cluster"
    idle = [p.pid for p in cluster_processes(supervised.popen.pid) if p.role == "worker" and not p.busy]
    assert idle, "no idle worker to kill"
    for pid in idle:
        os.kill(pid, signal.SIGKILL)

    orders = [place_order() for _ in range(4)]

    replaced = wait_for(
        lambda: WorkerCluster.objects.filter(restarts__gte=1, state=WorkerClusterState.RUNNING).first(),
        what="the supervisor to replace the wedged cluster",
        timeout=90,
        pick=False,
    )
    reason = replaced.last_restart_reason
    assert reason.startswith("wedged: a task it took waited"), reason
    assert "killed after 5 s" in supervised.log()  # it ignored SIGTERM, as django-q2 #346 says
    wait_for(lambda: at_rest(*orders), what="the orders to complete after the replacement", timeout=120)
    for order in orders:
        assert_fulfilled_once(order)
    # The cluster was replaced; the sweeper process beside it was left running.
    assert sweepers == [p.pid for p in cluster_processes(supervised.popen.pid) if p.role == "sweeper"]

    # Told to stop (SIGTERM to the supervisor alone, as a platform does), it stops its cluster.
    cluster = [p.pid for p in cluster_processes(supervised.popen.pid)]
    assert len(cluster) >= 6  # main, sentinel, two workers, monitor, pusher; the sweeper process
    supervised.popen.send_signal(signal.SIGTERM)
    assert supervised.popen.wait(timeout=30) == 0
    assert not [pid for pid in cluster if _not_zombie(pid)]
    assert WorkerCluster.objects.get().state == WorkerClusterState.STOPPED


def _not_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False
