"""Under `run_workers` the sweeper runs beside the cluster, so every worker runs steps.

A real supervisor and cluster on the test database: with N workers, N orders are inside a step
at one moment while a sweeper holds its live lease (before, the sweeper loop was a task that
held one worker for good). The sweeper is a process of the supervisor's: it wakes a due retry
with no loop task and no schedule, a killed one is replaced within seconds, a stopped one
(alive, sweeping nothing) is killed as wedged and replaced, two supervisors run one sweeper
between them (the other waits and takes over when the first machine dies), and SIGTERM stops
it with its supervisor and frees the lease.
"""

import os
import signal
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from fulfillment.models import Order, PickTask
from fulfillment.simulators.faults import fault_add
from processes.cluster_processes import cluster_processes
from processes.models.journal import EventKind, ProcessEvent
from processes.models.workers import SweeperLease, WorkerCluster
from processes.sweeper import LOOP_LEASE, PROCESS_OWNER
from tests.cluster.conftest import Background, cluster_environment, wait_for
from tests.cluster.test_real_cluster import assert_fulfilled_once, at_rest, charge_attempts
from tests.conftest import ENGINE_DB
from tests.external_processes import wait_for_sessions_to_close
from tests.factories import place_order

pytestmark = [pytest.mark.cluster, ENGINE_DB]

WORKERS = 3
# Each simulated call takes this long, so that a worker stays inside its step while we look.
SLOW_CALLS_MS = "3000"


@pytest.fixture
def supervisors(transactional_db, tmp_path):
    """Start `run_workers` supervisors (no schedule installed, no loop enqueued: the sweeper
    must come from the supervisor itself); all stopped before pytest flushes the tables."""
    started: list[Background] = []

    def start(**env: str) -> Background:
        environment = cluster_environment(Q_WORKERS=str(WORKERS), **env)
        number = len(started) + 1
        started.append(Background(["run_workers"], environment, tmp_path / f"run_workers-{number}.log"))
        return started[-1]

    yield start
    for supervisor in started:
        supervisor.stop()
    for supervisor in started:
        print(f"----- run_workers (exit {supervisor.popen.returncode}) -----\n{supervisor.log()}")
    wait_for_sessions_to_close("fulfillment-cluster-test", timeout=10.0)


def live_lease() -> SweeperLease | None:
    """The sweeper's lease while someone holds it (an owner, not run out), else None."""
    lease = SweeperLease.objects.filter(name=LOOP_LEASE).first()
    if lease and lease.owner and lease.lease_until and lease.lease_until > timezone.now():
        return lease
    return None


def holder_pid() -> int | None:
    lease = live_lease()
    return int(lease.owner.rsplit(":", 2)[1]) if lease else None


def sweeper_pids(supervisor: Background) -> list[int]:
    return [p.pid for p in cluster_processes(supervisor.popen.pid) if p.role == "sweeper"]


def test_every_worker_runs_a_step_while_the_sweeper_runs(catalogue, supervisors):
    """N workers, N orders whose steps take seconds: all N are inside a step at one moment,
    while the sweeper holds a live lease. (A sweeper loop task took one worker for good.)"""
    supervisors(SIM_LATENCY_MS=SLOW_CALLS_MS)
    wait_for(live_lease, what="a sweeper to hold its lease", pick=False)
    orders = [place_order() for _ in range(WORKERS)]

    leased = Order.objects.filter(pk__in=[o.pk for o in orders]).exclude(lease_owner="")

    def all_inside_a_step_beside_the_sweeper():
        holders = set(leased.values_list("lease_owner", flat=True))
        return len(holders) == WORKERS and live_lease() is not None

    wait_for(
        all_inside_a_step_beside_the_sweeper,
        what=f"{WORKERS} orders inside a step at once while a sweeper holds its lease",
        timeout=60,
        pick=False,
    )
    lease = live_lease()
    assert lease is not None and lease.owner.startswith(PROCESS_OWNER), lease and lease.owner


def test_the_sweeper_process_wakes_a_due_retry(catalogue, supervisors):
    """A charge refused once is retried when due: only the supervisor's sweeper process can
    wake it (no schedule, no loop task enqueued), and it does so within a few sweeps."""
    fault_add(service="payment", operation="charge", mode="unavailable", times=1)
    supervisors()
    wait_for(live_lease, what="a sweeper to hold its lease", pick=False)
    order = place_order()

    wait_for(lambda: at_rest(order), what="the order to come to rest")

    assert_fulfilled_once(order)
    failed, succeeded = charge_attempts(order)
    assert ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.RETRY_SCHEDULED).count() == 1
    assert (succeeded.started_at - failed.finished_at).total_seconds() <= 1.0 + 2.5
    assert live_lease().owner.startswith(PROCESS_OWNER)


def test_a_killed_sweeper_process_is_replaced_and_sigterm_frees_the_lease(catalogue, supervisors):
    """SIGKILL the sweeper process: its supervisor starts another, which holds the lease again
    within seconds (the dead one's lease runs out first). SIGTERM to the supervisor then stops
    both at once and frees the lease."""
    supervisor = supervisors()
    first = wait_for(holder_pid, what="a sweeper to hold its lease", pick=False)
    assert sweeper_pids(supervisor) == [first]

    os.kill(first, signal.SIGKILL)
    killed_at = time.monotonic()
    second = wait_for(
        lambda: (pid := holder_pid()) not in (None, first) and pid,
        what="another sweeper process to hold the lease",
        timeout=30,
        pick=False,
    )
    replaced_after = time.monotonic() - killed_at
    assert sweeper_pids(supervisor) == [second]
    assert replaced_after < 15, f"the sweeper was replaced after {replaced_after:.1f} s"
    assert "the sweeper process exited with status -9" in supervisor.log()

    supervisor.popen.send_signal(signal.SIGTERM)
    assert supervisor.popen.wait(timeout=30) == 0
    assert SweeperLease.objects.get(name=LOOP_LEASE).owner == ""
    assert "sweeper stopped; supervisor stopped" in supervisor.log()


# The shortest limit processes.checks accepts: twice the sweeper's longest pause (BACKOFF_MAX).
SWEEPER_WEDGE_AFTER = 10.0
# A pick task's first timer (the shift lead's warning): due while the sweeper is stopped.
WARNING_AFTER = 6


def test_a_stopped_sweeper_process_is_killed_as_wedged_and_replaced(catalogue, supervisors):
    """SIGSTOP the sweeper process (alive, its lease not renewed, sweeping nothing) once an
    order waits for its pick: the pick task's warning timer comes due and nothing fires it.
    Once the sweeper has been silent SWEEPER_WEDGE_AFTER, its supervisor kills it, frees its
    lease and forks another, which holds the lease and fires the timer; the wedge is reported.

    A timer rather than a retry: scheduling a retry while the lease has run out enqueues a
    sweeper loop task (processes.sweeper.ensure_sweeper), which would sweep in its place."""
    supervisor = supervisors(
        SWEEPER_WEDGE_AFTER=f"{SWEEPER_WEDGE_AFTER:g}",
        EMAIL_TIMEOUT="5",  # the limit must leave twice one email's send (processes.E010)
        PICK_WARNING_AFTER=str(WARNING_AFTER),
    )
    first = wait_for(holder_pid, what="a sweeper to hold its lease", pick=False)
    order = place_order()
    task = wait_for(lambda: PickTask.objects.filter(order=order).first(), what="its pick task", pick=False)
    os.kill(first, signal.SIGSTOP)
    stopped, stopped_at = time.monotonic(), timezone.now()
    try:
        second = wait_for(
            lambda: (pid := holder_pid()) not in (None, first) and pid,
            what="another sweeper process to hold the lease",
            timeout=SWEEPER_WEDGE_AFTER + 20,
            pick=False,
        )
        replaced_after = time.monotonic() - stopped
        warned = PickTask.objects.filter(pk=task.pk, warned_at__isnull=False)
        task = wait_for(warned.first, what="the pick task's warning", timeout=30, pick=False)
    finally:
        if first in sweeper_pids(supervisor):  # still ours, still stopped: the test failed
            os.kill(first, signal.SIGKILL)

    assert SWEEPER_WEDGE_AFTER - 1 < replaced_after < SWEEPER_WEDGE_AFTER + 10, replaced_after
    assert sweeper_pids(supervisor) == [second]
    assert not os.path.exists(f"/proc/{first}"), "the wedged sweeper process is still there"
    log = supervisor.log()
    assert f"the sweeper process {first} is wedged (no sign of life for 1" in log, log
    assert "the sweeper process exited with status -9; starting another in 0 s" in log, log
    replaced_at = stopped_at + timedelta(seconds=SWEEPER_WEDGE_AFTER - 1)
    assert task.created_at + timedelta(seconds=WARNING_AFTER) < replaced_at < task.warned_at  # it waited
    wait_for(
        lambda: WorkerCluster.objects.filter(sweeper_wedges=1, wedges=0, restarts=0).exists(),
        what="the supervisor to report the sweeper's wedge",
        timeout=15,
        pick=False,
    )


def test_two_supervisors_run_one_sweeper_and_the_other_takes_over(catalogue, supervisors):
    """Two machines: both run a sweeper process, one holds the lease for as long as it lives
    and the other waits; when the first machine dies, the second's sweeper takes over."""
    first, second = supervisors(), supervisors()
    wait_for(lambda: sweeper_pids(first) and sweeper_pids(second), what="both sweepers", pick=False)
    holder = wait_for(holder_pid, what="a sweeper to hold its lease", pick=False)
    seen = set()
    for _ in range(15):  # 3 s: each sweeper tries every SWEEP_INTERVAL (0.2 s)
        seen.add(holder_pid())
        time.sleep(0.2)
    assert seen == {holder}, seen
    [holding, waiting] = [first, second] if holder in sweeper_pids(first) else [second, first]
    assert holder in sweeper_pids(holding)

    holding.kill()  # the whole machine at once
    taken_over = wait_for(
        lambda: (pid := holder_pid()) not in (None, holder) and pid,
        what="the other machine's sweeper to take over",
        timeout=20,
        pick=False,
    )
    assert taken_over in sweeper_pids(waiting)
