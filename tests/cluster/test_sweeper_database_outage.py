"""PostgreSQL away for a moment: the supervisor's sweeper process logs, backs off and carries on.

A real outage on a PostgreSQL of the test's own (ThrowawayPostgres, never the shared server):
`run_workers` sweeps on it, the server is stopped with `pg_ctl stop -m immediate` for a few
seconds and started again. The same sweeper process (not a replacement) holds and renews the
lease afterwards, and the supervisor is still running.
"""

import time
from datetime import UTC, datetime

import psycopg
import pytest

from processes.sweeper import LOOP_LEASE, PROCESS_OWNER
from tests.cluster.conftest import Background, cluster_environment, manage
from tests.external_processes import running_postgres

pytestmark = pytest.mark.cluster
DATABASE = "fulfillment_sweeper_outage"
OUTAGE_SECONDS = 4.0


@pytest.fixture
def postgres():
    with running_postgres(DATABASE) as server:
        yield server


@pytest.fixture
def supervisor(postgres, tmp_path):
    env = cluster_environment(DATABASE_URL=postgres.url(DATABASE), PGAPPNAME="sweeper-outage-test")
    manage("migrate", "--no-input", env=env)
    supervisor = Background(["run_workers"], env, tmp_path / "run_workers.log")
    yield supervisor
    supervisor.stop()
    print(f"----- run_workers -----\n{supervisor.log()}")


def lease(postgres) -> tuple[str, datetime | None]:
    """(owner, lease_until) of the sweeper's lease, read straight from the throwaway server."""
    with psycopg.connect(postgres.url(DATABASE), connect_timeout=2) as db:
        query = "SELECT owner, lease_until FROM processes_sweeperlease WHERE name = %s"
        return db.execute(query, [LOOP_LEASE]).fetchone() or ("", None)


def held_after(postgres, moment: datetime, *, timeout: float) -> str:
    """Wait until a sweeper process renewed the lease after `moment`; returns its owner name."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        owner, until = lease(postgres)
        if owner.startswith(PROCESS_OWNER) and until and until > moment:
            return owner
        time.sleep(0.2)
    raise AssertionError(f"no sweeper process renewed the lease within {timeout:g} s of {moment}")


def test_the_sweeper_process_carries_on_after_the_database_was_down(postgres, supervisor):
    before = held_after(postgres, datetime.now(UTC), timeout=60)

    postgres.stop("immediate")
    time.sleep(OUTAGE_SECONDS)  # a real outage: the sweeper's turns fail meanwhile
    postgres.start()
    back = datetime.now(UTC)

    after = held_after(postgres, back, timeout=30)
    assert after == before, "the sweeper process was replaced instead of carrying on"
    assert supervisor.popen.poll() is None
    # The lease is renewed at the start of a turn, the recovery logged at its end.
    deadline = time.monotonic() + 10
    while "carries on after" not in supervisor.log() and time.monotonic() < deadline:
        time.sleep(0.2)
    log = supervisor.log()
    assert "turn failed" in log and "carries on after" in log, log
    assert "the sweeper process exited" not in log
