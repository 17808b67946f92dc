"""What a bench round cost the machine: CPU from /proc, commits, write transactions and WAL.

CPU is read from /proc/<pid>/stat (utime + stime, in clock ticks): for the workers, the whole
process tree of each worker process started (a live process's cutime and cstime hold what its
children that ended used, so nothing that exits mid-run is lost); for the database, the
PostgreSQL backends that serve the workers' sessions, found in pg_stat_activity by the
application name the workers connect with, sampled while the round runs (a backend that ends
takes its figures with it, so the last sample of each counts).

The database's figures: commits from pg_stat_database.xact_commit of the round's database,
read once the workers' sessions have ended (a backend flushes its counters at the latest when
it exits); write transactions and WAL bytes of that database alone from pg_waldump
(fulfillment.proving.wal_attribution), or, where it cannot be read, server-wide from the
transaction id horizon (`txid_snapshot_xmax`, which assigns no id, unlike `txid_current`) and
`pg_current_wal_lsn()`. Every query here goes through a connection to the server's
maintenance database, so the meter's own statements are not counted in the round's database.
"""

import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import psycopg
from django.db import connection

from fulfillment.proving import wal_attribution

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MAINTENANCE_DATABASE = "postgres"


def proc_stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (state first), None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rfind(")") + 2 :].split()


def _ticks(fields: list[str], *, children: bool) -> int:
    own = int(fields[11]) + int(fields[12])  # utime, stime
    return own + (int(fields[13]) + int(fields[14]) if children else 0)  # cutime, cstime


def tree_cpu_seconds(roots: Iterable[int]) -> float:
    """CPU seconds used by the processes `roots` and all their descendants, ended ones included
    (as far as their parents have waited for them)."""
    parents, stats = {}, {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := proc_stat(int(entry.name))):
            parents[int(entry.name)], stats[int(entry.name)] = int(fields[1]), fields
    tree, frontier = set(), [pid for pid in roots if pid in stats]
    while frontier:
        pid = frontier.pop()
        tree.add(pid)
        frontier.extend(child for child, parent in parents.items() if parent == pid and child not in tree)
    return sum(_ticks(stats[pid], children=True) for pid in tree) / CLOCK_TICKS


def server_connection() -> psycopg.Connection:
    """An autocommit connection to the server's maintenance database, with Django's credentials."""
    db = connection.settings_dict
    return psycopg.connect(
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        dbname=MAINTENANCE_DATABASE,
        application_name="bench-meter",
        autocommit=True,
    )


class BackendCpu:
    """CPU of the backends serving sessions named `app_name` on `database`, from a first sample
    to the last. The database matters: other benches on the same server (another checkout's,
    another session's) name their sessions alike, and their backends are not this round's."""

    def __init__(self, cursor, app_name: str, database: str):
        self.cursor, self.app_name, self.database = cursor, app_name, database
        self.first: dict[int, int] = {}
        self.last: dict[int, int] = {}
        self.unreadable = 0  # backends listed but not in this machine's /proc

    def sample(self, *, baseline: bool = False) -> None:
        self.cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = %s",
            [self.app_name, self.database],
        )
        for (pid,) in self.cursor.fetchall():
            fields = proc_stat(pid)
            if fields is None:  # ended since it was listed, or the server runs on another machine
                self.unreadable += pid not in self.last
                continue
            ticks = _ticks(fields, children=False)
            self.first.setdefault(pid, ticks if baseline else 0)
            self.last[pid] = ticks

    def seconds(self) -> float | None:
        """None when no backend could be read here: the server is on another machine."""
        if self.unreadable and not self.last:
            return None
        return sum(self.last[pid] - self.first[pid] for pid in self.last) / CLOCK_TICKS


def poll_until(
    finished, *, timeout: float, what: str, meter: "RunMeter | None" = None, every: float = 0.1
) -> int:
    """Ask `finished()` every `every` s until it is true, sampling the meter's backends between
    asks; returns how many asks it took (the bench's own queries, not the work it measures)."""
    deadline, polls = time.monotonic() + timeout, 0
    while True:
        polls += 1
        if finished():
            return polls
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not finish within {timeout:g}s")
        if meter:
            meter.sample()
        time.sleep(every)


class RunMeter:
    """Measure one round: `begin` once the workers are warm, `sample` while it runs,
    `end_cpu` when the last workflow finished, `end_database` once the workers' sessions are
    gone; `figures()` then holds the totals.

    `roots` passed to `begin` are the pids of the worker processes started for the round;
    `own_commits` passed to `end_database` are the round database's transactions the bench
    itself ran that are not the work measured (its polls for completion)."""

    def __init__(self, *, database: str, app_name: str):
        self.database, self.app_name, self.roots = database, app_name, []
        self.server = server_connection()
        self.cursor = self.server.cursor()
        self.backends = BackendCpu(self.cursor, app_name, database)
        self.pin = wal_attribution.WalPin(self.cursor, f"bench_{uuid.uuid4().hex[:12]}")
        self.totals: dict = {}

    def begin(self, roots: list[int]) -> None:
        self.roots = roots
        self.pin.hold()
        self.backends.sample(baseline=True)
        self._started = self._database_counters()
        self._workers_cpu = tree_cpu_seconds(roots)

    def sample(self) -> None:
        self.backends.sample()

    def end_cpu(self) -> None:
        self.backends.sample()
        workers = tree_cpu_seconds(self.roots) - self._workers_cpu
        database = self.backends.seconds()
        self.totals.update(workers_cpu_seconds=workers, database_cpu_seconds=database)

    def wait_sessions_closed(self, timeout: float = 30.0) -> None:
        """Wait until the workers' sessions are gone, their counters flushed as they ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname = %s",
                [self.app_name, self.database],
            )
            if self.cursor.fetchone()[0] == 0:
                return
            time.sleep(0.1)

    def end_database(self, *, own_commits: int) -> None:
        ended = self._database_counters()
        started = self._started
        commits = ended["commits"] - started["commits"] - own_commits
        self.totals["commits"] = commits
        own = self._database_wal(started["lsn"], ended["lsn"])
        if own is not None:
            self.totals.update(wal_bytes=own.wal_bytes, write_transactions=own.write_transactions)
            self.totals["wal_scope"] = "database"
        else:
            self.totals["wal_bytes"] = self._lsn_diff(ended["lsn"], started["lsn"])
            self.totals["write_transactions"] = ended["xid_horizon"] - started["xid_horizon"]
            self.totals["wal_scope"] = "server"

    def figures(self) -> dict:
        return dict(self.totals)

    def close(self) -> None:
        self.pin.release()
        self.server.close()

    def _database_counters(self) -> dict:
        self.cursor.execute(
            "SELECT xact_commit, txid_snapshot_xmax(txid_current_snapshot()), pg_current_wal_lsn()::text, "
            "d.oid FROM pg_stat_database s JOIN pg_database d ON d.datname = s.datname WHERE s.datname = %s",
            [self.database],
        )
        commits, horizon, lsn, oid = self.cursor.fetchone()
        self._database_oid = oid
        return {"commits": commits, "xid_horizon": horizon, "lsn": lsn}

    def _lsn_diff(self, end: str, start: str) -> int:
        self.cursor.execute("SELECT pg_wal_lsn_diff(%s::pg_lsn, %s::pg_lsn)::bigint", [end, start])
        return self.cursor.fetchone()[0]

    def _database_wal(self, start: str, end: str):
        if not self.pin.held:
            return None
        return wal_attribution.waldump_database_wal(self.cursor, self._database_oid, start, end)
