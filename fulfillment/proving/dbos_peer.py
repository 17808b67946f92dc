"""The peer side of `manage.py bench --workflow noop --peer dbos`: the same five no-op steps on
DBOS Transact, measured as our side is.

On equal terms: the same PostgreSQL server (a database of its own, made here if missing), as
many executor processes (fulfillment.proving.dbos_executor) as our cluster has workers, each
with its own executor id on one queue, warmed up the same way; the workflows are enqueued by
this process, one transaction each, through a DBOSClient; timing starts before the first is
enqueued and ends at the last one's completion as its status row records it; the same meter
(fulfillment.proving.run_meter) counts the executors' CPU and their backends', the commits,
write transactions and WAL of the peer's database.
"""

import importlib.util
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psycopg
from django.conf import settings
from django.db import connection

from fulfillment.proving import noop_figures
from fulfillment.proving.run_meter import RunMeter, poll_until, server_connection

# Chosen on this 2-core machine (docs/performance.md, "The noop bench"): every executor polls
# its queue each interval for at most worker_concurrency minus what it runs. Shorter intervals
# spent more CPU and commits on polls without more workflows a second; 0.1 s with 8 at once
# per executor did the most workflows a second (and 1 at once less than half as many).
DEFAULT_POLLING = 0.1
DEFAULT_CONCURRENCY = 8
STATUS = "dbos.workflow_status"


class PeerFailed(RuntimeError):
    """The peer could not run its round (an executor that did not start, say)."""


def installed() -> bool:
    return importlib.util.find_spec("dbos") is not None


def peer_database() -> str:
    """The peer's own database on our server: our database's name with `_dbos` added."""
    return f"{connection.settings_dict['NAME']}_dbos"


def database_url(database: str) -> str:
    """The URL of `database` on our server, with our credentials."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{auth}{db['HOST'] or '127.0.0.1'}{port}/{quote(database, safe='')}"


def prepare(database: str) -> str:
    """Make the peer's database if missing, migrate DBOS's tables once, and empty them of the
    workflows of earlier rounds; returns its URL."""
    from dbos import DBOS

    with server_connection() as server:
        made = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not made:
            server.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database)))
    url = database_url(database)
    DBOS.migrate(url)
    with psycopg.connect(url, autocommit=True) as peer:
        peer.execute(f"TRUNCATE {STATUS} CASCADE")
    return url


def dbos_round(*, workflows: int, processes: int, concurrency: int, polling: float, timeout: float) -> dict:
    """One measured round of `workflows` DBOS workflows on `processes` fresh executors."""
    from dbos import DBOSClient

    from fulfillment.proving import dbos_executor

    database = peer_database()
    url = prepare(database)
    client = DBOSClient(system_database_url=url, application_name=dbos_executor.APPLICATION)
    meter = RunMeter(database=database, app_name=dbos_executor.SESSIONS)
    try:
        with executors(url, processes, concurrency, polling, timeout) as pids:
            _run(url, _enqueue(client, "warm", processes * 2), timeout)
            meter.begin(roots=pids)
            started = time.time()
            prefix = _enqueue(client, "round", workflows)
            polls = _run(url, prefix, timeout, meter=meter)
            meter.end_cpu()
        client.destroy()  # the enqueues' counters flushed as its sessions end
        meter.wait_sessions_closed()
        meter.end_database(own_commits=polls)
        return _figures(url, prefix, workflows, started, meter.figures())
    finally:
        meter.close()


@contextmanager
def executors(url: str, processes: int, concurrency: int, polling: float, timeout: float):
    """`processes` DBOS executors, each in its own session; yields their pids once all listen."""
    with tempfile.TemporaryDirectory(prefix="bench-dbos-") as ready:
        children = [_executor(url, f"bench-{n}", concurrency, polling, ready) for n in range(processes)]
        try:
            _wait_ready(children, Path(ready), timeout)
            yield [child.pid for child in children]
        finally:
            for child in children:
                child.terminate()
            for child in children:
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()


def _executor(url, executor_id, concurrency, polling, ready) -> subprocess.Popen:
    command = [sys.executable, "-m", "fulfillment.proving.dbos_executor", "--url", url]
    command += ["--executor-id", executor_id, "--concurrency", str(concurrency)]
    command += ["--polling", str(polling), "--ready-dir", ready]
    return subprocess.Popen(command, cwd=settings.BASE_DIR, start_new_session=True, stdout=subprocess.DEVNULL)


def _wait_ready(children, ready: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(list(ready.glob("*.ready"))) < len(children):
        if any(child.poll() is not None for child in children):
            raise PeerFailed("a DBOS executor exited before it listened (its error is above)")
        if time.monotonic() > deadline:
            raise TimeoutError(f"the DBOS executors did not start within {timeout:g}s")
        time.sleep(0.05)


def _enqueue(client, name: str, count: int) -> str:
    """Enqueue `count` workflows whose ids start with a prefix of their own; returns it."""
    from fulfillment.proving import dbos_executor

    prefix = f"{name}-{time.time_ns()}-"
    for n in range(count):
        options = {"queue_name": dbos_executor.QUEUE, "workflow_name": dbos_executor.WORKFLOW}
        options.update(workflow_id=f"{prefix}{n}", app_version=dbos_executor.VERSION)
        client.enqueue(options)
    return prefix


def _run(url: str, prefix: str, timeout: float, meter: RunMeter | None = None) -> int:
    """Wait until no workflow whose id starts with `prefix` is still queued or running;
    returns the queries it took (its session ends with it, its counters flushed)."""
    query = f"SELECT count(*) FROM {STATUS} WHERE workflow_uuid LIKE %s AND status IN ('ENQUEUED', 'PENDING')"
    with psycopg.connect(url, autocommit=True, application_name="bench-watch") as watch:
        return poll_until(
            lambda: watch.execute(query, [f"{prefix}%"]).fetchone()[0] == 0,
            timeout=timeout,
            what="the DBOS workflows",
            meter=meter,
        )


def _figures(url: str, prefix: str, workflows: int, started: float, meter: dict) -> dict:
    from fulfillment.proving import dbos_executor

    query = (
        f"SELECT created_at, completed_at FROM {STATUS} WHERE workflow_uuid LIKE %s AND status = 'SUCCESS'"
    )
    with psycopg.connect(url) as watch:
        rows = watch.execute(query, [f"{prefix}%"]).fetchall()
    last = max(completed for _, completed in rows) / 1000
    return noop_figures.round_figures(
        workflows=workflows,
        finished=len(rows),
        steps=dbos_executor.STEPS,
        seconds=last - started,
        latencies_ms=[completed - created for created, completed in rows],
        meter=meter,
    )
