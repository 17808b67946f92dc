"""The engine's own cost per no-op workflow, run in this process as a worker runs it.

`manage.py profile_noop` starts noop processes (fulfillment.proving.noop_workflow), drops
their wake-ups, then runs each with `runner.run_process` here, as a worker's task would, and
counts what that cost: this process's CPU (`time.process_time`), the CPU of the PostgreSQL
backend serving it (/proc), its statements (an execute wrapper) and its commits. No queue, no
cluster, no sweeper: the figure a change to the runner moves, at a fraction of the noise of a
bench through a real cluster on a shared machine. With `profile`, cProfile (on a CPU clock)
records the measured run to that file. With `wal`, the WAL the measured run wrote to this
database by relation and record kind (fulfillment.proving.wal_breakdown), the full-page images
apart: the first change to a page after a checkpoint writes it whole, whether that checkpoint
ended in the window (`checkpoint_in_window`) or just before it.
"""

import cProfile
import time

from django.db import connection
from django_q.models import OrmQ

from fulfillment.proving import noop_bench, wal_breakdown
from fulfillment.proving.models import NoopProcess
from fulfillment.proving.noop_workflow import noop_workflow_register
from fulfillment.proving.run_meter import CLOCK_TICKS, proc_stat, server_connection
from fulfillment.proving.wal_attribution import WalPin
from processes import runner

WARM_UP = 20


def noop_inprocess(*, workflows: int, profile: str | None = None, wal: bool = False) -> dict:
    """Run `workflows` noop processes in this process after a warm-up; their cost per workflow."""
    noop_workflow_register()
    noop_bench._clear()
    _run(_started(WARM_UP))  # imports done, statements prepared on this connection
    ids = _started(workflows)
    counted = {"statements": 0, "commits": 0}

    def counting(execute, sql, params, many, context):
        counted["statements"] += 1
        return execute(sql, params, many, context)

    backend = _backend_pid()
    window = _WalWindow() if wal else None
    if window:
        window.open()
    with connection.execute_wrapper(counting), _counting_commits(counted):
        backend_before, cpu_before = _backend_seconds(backend), time.process_time()
        profiler = cProfile.Profile(time.process_time) if profile else None
        if profiler:
            profiler.enable()
        _run(ids)
        if profiler:
            profiler.disable()
        cpu, backend_cpu = time.process_time() - cpu_before, _backend_seconds(backend) - backend_before
    if profiler:
        profiler.dump_stats(profile)
    wal_figures = window.close(workflows) if window else None
    finished = NoopProcess.objects.filter(pk__in=ids, run_status="finished").count()
    return {
        "workflows": workflows,
        "finished": finished,
        "client_cpu_ms_per_workflow": round(cpu * 1000 / workflows, 2),
        "backend_cpu_ms_per_workflow": round(backend_cpu * 1000 / workflows, 2),
        "statements_per_workflow": round(counted["statements"] / workflows, 2),
        "commits_per_workflow": round(counted["commits"] / workflows, 2),
        "profiled": bool(profile),
        **({"wal": wal_figures} if wal else {}),
    }


def _started(count: int) -> list:
    ids = noop_bench._start(count)
    OrmQ.objects.all().delete()  # their wake-ups: this process runs them, no cluster does
    return ids


def _run(ids: list) -> None:
    label = NoopProcess._meta.label_lower
    for pk in ids:
        runner.run_process(label, str(pk))


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _backend_seconds(pid: int) -> float:
    fields = proc_stat(pid)  # the server runs on this machine (docs/performance.md)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class _counting_commits:
    """Count the connection's commits while the block runs (the execute wrapper sees none)."""

    def __init__(self, counted: dict):
        self.counted = counted

    def __enter__(self):
        wrapper = connection
        self.commit = wrapper._commit

        def counting_commit():
            self.counted["commits"] += 1
            return self.commit()

        wrapper._commit = counting_commit
        return self

    def __exit__(self, *exc):
        del connection._commit  # the instance attribute: the class's method shows again
        return False


class _WalWindow:
    """The WAL this database writes between `open` and `close`, kept by a temporary slot until
    pg_waldump has read it, broken down per workflow."""

    def open(self) -> None:
        self.server = server_connection()
        self.cursor = self.server.cursor()
        self.pin = WalPin(self.cursor, f"profile_{_backend_pid()}")
        self.pin.hold()
        self.start, self.redo = self._positions()

    def close(self, workflows: int) -> dict | None:
        end, redo = self._positions()
        with connection.cursor() as cursor:
            cursor.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
            oid = cursor.fetchone()[0]
            names = wal_breakdown.relation_names(cursor)
        found = wal_breakdown.waldump_breakdown(self.cursor, oid, names, self.start, end)
        self.pin.release()
        self.server.close()
        if found is None:
            return None
        return {
            "bytes_per_workflow": round(found.total / workflows),
            # Full-page images: the first change to a page after any checkpoint (another
            # database's CREATE DATABASE forces one) writes it whole; what is left is the code's.
            "fpi_bytes_per_workflow": round(found.fpi_bytes / workflows),
            "checkpoint_in_window": redo != self.redo or found.checkpoints > 0,
            "by_relation": {
                name: round(size / workflows)
                for name, size in sorted(found.by_relation().items(), key=lambda item: -item[1])
            },
            "by_kind": wal_breakdown.table(found, workflows),
        }

    def _positions(self) -> tuple[str, str]:
        self.cursor.execute("SELECT pg_current_wal_lsn()::text, (pg_control_checkpoint()).redo_lsn::text")
        return self.cursor.fetchone()
