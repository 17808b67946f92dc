"""`manage.py bench --workflow noop [--peer dbos] --json` runs real workers and reports both sides.

The bench runs as a child process on pytest's test database (its cluster must see committed
rows); the peer's database, the test database's name with `_dbos`, is dropped when the
session ends. Kept short: one round of 20 workflows on 2 workers.
"""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from fulfillment.proving import chaos, noop_bench
from fulfillment.proving.models import NoopProcess, NoopState
from fulfillment.proving.run_meter import server_connection
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.external_processes import wait_for_sessions_to_close

pytestmark = [pytest.mark.cluster, ENGINE_DB]

APP_NAME = "fulfillment-bench-test"
WORKFLOWS = 20
SHORT = ["--workflow", "noop", "--workflows", str(WORKFLOWS), "--rounds", "1", "--workers", "2"]
FIGURES = {
    "workflows_per_second",
    "steps_per_second",
    "cpu_ms_per_workflow",
    "commits_per_workflow",
    "write_transactions_per_workflow",
    "wal_bytes_per_workflow",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "per_round",
}


@pytest.fixture(scope="session")
def peer_database(django_db_setup):
    """The peer's database (the test database's name with `_dbos`), dropped when the session
    ends. Not after each test: a DROP DATABASE makes the server write every dirty page at once
    (an immediate checkpoint), which took 48–70 s in the middle of a full run; the bench
    empties the peer's tables before each round anyway (fulfillment.proving.dbos_peer.prepare).
    At the session's end pytest-django drops the test databases, a checkpoint each, anyway."""
    if connection.vendor != "postgresql":
        pytest.skip("the noop bench measures PostgreSQL: run with DATABASE_URL=postgres://...")
    name = f"{connection.settings_dict['NAME']}_dbos"
    yield name
    with server_connection() as server:
        server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def run_bench(peer_database):
    """Call it with the bench's arguments; returns its JSON result."""

    def run(*args: str) -> dict:
        env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
        env.update(DATABASE_URL=chaos.database_url(), SECRET_KEY=settings.SECRET_KEY, PGAPPNAME=APP_NAME)
        env["Q_CLUSTER_NAME"] = f"bench-{connection.settings_dict['NAME']}"
        done = subprocess.run(
            [sys.executable, "manage.py", "bench", *args, "--timeout", "60", "--json"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"bench failed:\n{done.stdout}\n{done.stderr[-5000:]}"
        return json.loads(done.stdout)

    yield run
    wait_for_sessions_to_close(APP_NAME)
    wait_for_sessions_to_close(noop_bench.SESSIONS)


def assert_plausible(side: dict) -> None:
    assert set(side) >= FIGURES, side
    assert side["workflows"] == WORKFLOWS and side["finished"] == WORKFLOWS
    assert side["workflows_per_second"] > 0 and side["steps_per_second"] == pytest.approx(
        side["workflows_per_second"] * 5, rel=0.05
    )
    assert side["cpu_ms_per_workflow"] > 0 and side["workers_cpu_ms_per_workflow"] > 0
    assert side["database_cpu_ms_per_workflow"] > 0, "the backends run on this machine"
    assert side["commits_per_workflow"] >= side["write_transactions_per_workflow"] > 0
    assert side["wal_bytes_per_workflow"] > 0
    assert 0 < side["latency_p50_ms"] <= side["latency_p95_ms"] <= side["latency_p99_ms"]
    assert len(side["per_round"]) == 1


def test_the_noop_bench_runs_every_workflow_to_its_end_and_reports_its_cost(run_bench):
    """Our side alone: the figures, and every noop process of the round finished."""
    result = run_bench(*SHORT)

    assert_plausible(result["noop"])
    assert result["noop"]["broker"] == "orm" and result["noop"]["workers"] == 2
    assert result["noop"]["wal_scope"] == "database", "pg_waldump reads the WAL on this machine"
    assert "peer" not in result and "ratio_noop_to_peer" not in result
    processes = NoopProcess.objects.all()
    assert processes.count() == WORKFLOWS + 4  # and the warm-up's, two per worker
    assert set(processes.values_list("run_status", "state")) == {(RunStatus.FINISHED, NoopState.DONE)}


def test_the_dbos_peer_runs_the_same_workflows_alternately_with_ours(run_bench):
    """With --peer dbos both sides report the same figures, and their ratio."""
    result = run_bench(*SHORT, "--peer", "dbos")

    assert result["order"] == ["noop", "peer"]
    assert_plausible(result["noop"])
    assert_plausible(result["peer"])
    assert result["peer"]["processes"] == 2 and result["peer"]["engine"] == "dbos 3.4.0"
    ratio = result["noop"]["workflows_per_second"] / result["peer"]["workflows_per_second"]
    assert result["ratio_noop_to_peer"] == pytest.approx(ratio, abs=0.01)
