"""Our side of `manage.py bench --workflow noop`: the noop workflow through a real cluster.

One round starts a cluster (fulfillment.proving.benchmarks.cluster) on the configured database
and broker with the noop workflow registered, warms it up with a few workflows, then starts
`workflows` noop processes from this process, one transaction each as a client's request would,
and waits until all have finished. Timing starts before the first is started and ends at the
last one's finish, as its row records it; the meter (fulfillment.proving.run_meter) counts the
cluster's CPU and its backends', the commits, write transactions and WAL of the round.
"""

import time

from django.conf import settings
from django.db import connection, transaction

from fulfillment.proving import benchmarks, noop_figures
from fulfillment.proving.models import NoopProcess
from fulfillment.proving.noop_workflow import STEPS, noop_workflow_register
from fulfillment.proving.run_meter import RunMeter, poll_until
from processes.control import process_start
from processes.journal import Actor
from processes.models.journal import ProcessEvent, StepAttempt
from processes.models.process import RunStatus

# The application name of the cluster's database sessions: the meter finds their backends by it.
SESSIONS = "bench-noop-cluster"
STOP_GRACE = 2.0
ACTOR = Actor("client", "bench")


def noop_round(*, workflows: int, workers: int, timeout: float) -> dict:
    """Run one measured round of `workflows` noop processes on a fresh cluster of `workers`."""
    noop_workflow_register()
    _clear()
    meter = RunMeter(database=connection.settings_dict["NAME"], app_name=SESSIONS)
    env = {"PGAPPNAME": SESSIONS, "BENCH_NOOP_WORKFLOW": "1"}
    try:
        # Measured before it stops: `run_workers` with its cluster and its sweeper process.
        with benchmarks.cluster(workers, env=env, stop_grace=STOP_GRACE) as child:
            _run(_start(workers * 2), timeout)  # warm-up: workers forked, connected, imports done
            connection.close()  # its counters flushed before the round begins
            meter.begin(roots=[child.pid])
            started = time.time()
            ids = _start(workflows)
            polls = _run(ids, timeout, meter=meter)
            meter.end_cpu()
        connection.close()  # the enqueues' and polls' counters flushed as the session ends
        meter.wait_sessions_closed()
        meter.end_database(own_commits=polls)
        return _figures(ids, started, meter.figures())
    finally:
        meter.close()


def _figures(ids: list, started: float, meter: dict) -> dict:
    rows = NoopProcess.objects.filter(pk__in=ids, run_status=RunStatus.FINISHED)
    times = list(rows.values_list("created_at", "updated_at"))
    last = max(updated.timestamp() for _, updated in times)
    latencies = [(updated - created).total_seconds() * 1000 for created, updated in times]
    return noop_figures.round_figures(
        workflows=len(ids),
        finished=len(times),
        steps=STEPS,
        seconds=last - started,
        latencies_ms=latencies,
        meter=meter,
    )


def _start(count: int) -> list:
    """Start `count` noop processes, each in its own transaction (its wake-up sent on commit)."""
    ids = []
    for _ in range(count):
        with transaction.atomic():
            process = NoopProcess()
            process_start(process=process, actor=ACTOR, version=1)
        ids.append(process.pk)
    return ids


def _run(ids: list, timeout: float, meter: RunMeter | None = None) -> int:
    """Wait until the processes `ids` (the table's only unfinished ones) have all finished;
    returns the queries it took."""
    unfinished = NoopProcess.objects.exclude(run_status=RunStatus.FINISHED)
    return poll_until(
        lambda: not unfinished.exists(), timeout=timeout, what="the noop workflows", meter=meter
    )


def _clear() -> None:
    """Remove the noop processes of earlier rounds and their journal, so each round starts alike."""
    label = NoopProcess._meta.label_lower
    with transaction.atomic():
        ProcessEvent.objects.filter(process_type=label).delete()
        StepAttempt.objects.filter(process_type=label).delete()
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {NoopProcess._meta.db_table}")


def broker() -> str:
    return "redis" if "redis" in settings.Q_CLUSTER else "orm"
