"""What the worker supervisor calls wedged (a cluster, or its sweeper process), at the production
defaults, and how /readyz reads the clusters' reports (processes.worker_supervisor; the real
wedges are in tests/cluster)."""

import os
from datetime import timedelta

import pytest

from fulfillment.ops.readiness import worker_clusters
from processes import clock, sweeper, worker_heartbeat
from processes.cluster_processes import ClusterProcess
from processes.models.workers import WorkerCluster, WorkerClusterState
from processes.worker_heartbeat import Heartbeat
from processes.worker_supervisor import Limits, diagnose, diagnose_sweeper

NOW = 1_000_000.0
IDLE, BUSY = ClusterProcess(1, "worker", busy=False), ClusterProcess(2, "worker", busy=True)
OTHERS = [ClusterProcess(3, "monitor", busy=False), ClusterProcess(4, "pusher", busy=False)]


def beat(*, pulled: float, started: float, finished: float) -> Heartbeat:
    """Moments given as seconds before NOW."""
    return Heartbeat(pulled=NOW - pulled, started=NOW - started, finished=NOW - finished)


def test_the_production_limits():
    """A task may wait 30 s beside an idle worker; otherwise the queue's 90 s task timeout and
    half a minute more. The sweeper process may be silent 30 s."""
    assert Limits.configured() == Limits(wedge_after=30.0, stall_after=120.0, sweeper_wedge_after=30.0)


@pytest.mark.parametrize(
    ("heartbeat", "workers", "verdict"),
    [
        # Quiet: nothing taken since the last start, workers idle for an hour.
        (beat(pulled=3600, started=3599, finished=3598), [IDLE, IDLE], None),
        # Busy and healthy: the last task taken was started at once.
        (beat(pulled=1, started=0.5, finished=0.2), [BUSY, IDLE], None),
        # A task taken 29 s ago and not started beside an idle worker: not yet.
        (beat(pulled=29, started=40, finished=40), [IDLE, BUSY], None),
        # 31 s: django-q2 #23, a queue lock held by a dead process.
        (beat(pulled=31, started=40, finished=40), [IDLE, BUSY], "waited 31 s while 1 of its workers"),
        # Every worker busy in long calls, a task waiting: fine until the task timeout has passed.
        (beat(pulled=100, started=110, finished=110), [BUSY, BUSY], None),
        (beat(pulled=100, started=121, finished=121), [BUSY, BUSY], "no worker started a task for 121 s"),
        # Tasks start but their ends are never recorded: the monitor is stuck.
        (beat(pulled=200, started=119, finished=300), [BUSY, BUSY], None),
        (beat(pulled=200, started=121, finished=300), [IDLE, IDLE], "its monitor is stuck"),
    ],
)
def test_diagnose(heartbeat, workers, verdict):
    found = diagnose(heartbeat, [*workers, *OTHERS], NOW, Limits.configured())

    if verdict is None:
        assert found is None
    else:
        assert verdict in (found or ""), found


@pytest.mark.parametrize(
    ("silent", "verdict"),
    [
        (0.0, None),  # it just touched its heartbeat
        (5.0, None),  # a full BACKOFF_MAX pause while the database is away
        (30.0, None),  # at the limit: not yet
        (31.0, "no sign of life for 31.0 s (limit 30 s)"),  # stuck in a turn, or stopped
        (3600.0, "no sign of life for 3600.0 s (limit 30 s)"),
    ],
)
def test_diagnose_sweeper(silent, verdict):
    assert diagnose_sweeper(silent, Limits.configured()) == verdict


def test_a_wedged_sweeper_is_replaced_before_readyz_calls_the_sweeper_lagging(settings):
    """At the defaults, a sweeper stopped right after renewing its 3 s lease is killed at the
    limit, at the latest one supervisor turn (1 s) later, and its successor takes the lease at
    once: the lease has run out for less than /readyz tolerates, so the web servers stay ready
    through a wedge the supervisor mends itself."""
    limit = Limits.configured().sweeper_wedge_after
    lag_when_replaced = limit + 1.0 - sweeper._loop_lease_seconds()

    assert lag_when_replaced < settings.OPS["SWEEPER_MAX_LAG"]


def report(name: str, state: str, *, seen_ago: float = 1.0, restarts: int = 0) -> WorkerCluster:
    now = clock.now()
    return WorkerCluster.objects.create(
        name=name,
        host=name.split(":")[0],
        queue="fulfillment",
        state=state,
        started_at=now - timedelta(hours=1),
        last_seen_at=now - timedelta(seconds=seen_ago),
        restarts=restarts,
        last_restart_reason="wedged: a task it took waited 31 s beside idle workers" if restarts else "",
    )


@pytest.mark.django_db
def test_readiness_needs_one_running_cluster_when_clusters_report():
    assert worker_clusters() == {"ok": True, "clusters": []}  # unsupervised workers: not judged

    report("a:1", WorkerClusterState.RESTARTING, restarts=1)
    report("b:2", WorkerClusterState.RUNNING, seen_ago=45)  # 45 s without a report: silent
    report("c:3", WorkerClusterState.STOPPED, seen_ago=300)
    report("d:4", WorkerClusterState.RUNNING, seen_ago=900)  # history, not shown

    found = worker_clusters()
    assert found["ok"] is False
    assert [(c["name"], c["state"]) for c in found["clusters"]] == [
        ("a:1", "restarting"),
        ("b:2", "silent"),
        ("c:3", "stopped"),
    ]
    assert found["clusters"][0]["last_restart_reason"].startswith("wedged:")

    report("e:5", WorkerClusterState.RUNNING)
    assert worker_clusters()["ok"] is True


def test_the_pusher_notes_when_the_oldest_waiting_task_was_taken(tmp_path, monkeypatch):
    """Under steady traffic the pusher takes a task every few seconds: `pulled` must keep the
    first one still waiting, or a wedged cluster never looks like one (seen by hand: replaced
    after 112 s instead of 30)."""
    monkeypatch.setenv(worker_heartbeat.ENVIRONMENT, str(tmp_path))
    worker_heartbeat.reset(tmp_path, at=100.0)

    worker_heartbeat.note_taken()  # nothing was waiting: the first task taken since a start
    first = worker_heartbeat.read(tmp_path).pulled
    assert first > 100.0
    os.utime(tmp_path / worker_heartbeat.PULLED, (first - 5, first - 5))  # taken 5 s ago
    worker_heartbeat.note_taken()  # another task while the first still waits
    assert worker_heartbeat.read(tmp_path).pulled == first - 5

    worker_heartbeat.on_task_started()  # a worker took it
    worker_heartbeat.note_taken()
    beat = worker_heartbeat.read(tmp_path)
    assert beat.pulled >= beat.started > first - 5
