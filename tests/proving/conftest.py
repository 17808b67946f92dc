"""Run `manage.py soak` as a child process against pytest's test database, and clean up after.

The soak starts its own clusters (fulfillment.proving.chaos) and must see committed data, so the
tests that use it are transactional. Every database session of the soak and of its clusters
carries the application name fulfillment.proving.chaos.APP_NAME: the teardown waits until they are all
gone before pytest-django flushes the tables.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from fulfillment.proving import chaos
from tests.external_processes import redis_client_or_skip, wait_for_sessions_to_close
from tests.proving import soak_evidence


@pytest.fixture
def run_soak(transactional_db, tmp_path):
    """Call it with the soak's arguments (and environment overrides); returns its JSON report.

    Depending on the database fixture makes this teardown run before pytest-django's flush.
    """
    if connection.vendor != "postgresql":
        pytest.skip("the soak's clusters need a shared database: run with DATABASE_URL=postgres://...")

    def run(*args: str, timeout: float, **env: str) -> dict:
        environment = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
        environment.update(
            DATABASE_URL=chaos.database_url(),
            SECRET_KEY=settings.SECRET_KEY,
            PGAPPNAME=chaos.APP_NAME,
            PYTHONUNBUFFERED="1",
            Q_CLUSTER_NAME=f"soak-{connection.settings_dict['NAME']}",
            **env,
        )
        command = [sys.executable, "manage.py", "soak", "--json", "--log-dir", str(tmp_path), *args]
        done = subprocess.run(
            command, cwd=settings.BASE_DIR, env=environment, capture_output=True, text=True, timeout=timeout
        )
        # What pytest shows when the test fails: the soak's running commentary, how the clusters
        # lived, and where the slowest orders waited (read before the database is flushed).
        print(done.stderr)
        print(soak_evidence.cluster_lives(tmp_path))
        print(soak_evidence.slowest_orders())
        return report_of(done)

    yield run
    wait_for_sessions_to_close(chaos.APP_NAME)


@pytest.fixture
def soak_redis_url():
    """A spare Redis database for the broker, emptied before and after. The soak's queue is
    named after the test database (Q_CLUSTER_NAME, see run_soak), so that test runs on other
    databases sharing this Redis never take each other's messages."""
    url = "redis://127.0.0.1:6379/8"
    client = redis_client_or_skip(url, "the soak on the Redis broker is not run")
    queue = f"django_q:soak-{connection.settings_dict['NAME']}:q"
    client.delete(queue)
    yield url
    client.delete(queue)
    client.close()


@pytest.fixture
def run_infra_soak(tmp_path):
    """`soak --faults infra` as a child process: it starts and removes servers of its own and
    never touches the test database (nor the shared PostgreSQL and Redis). Returns its report."""
    if os.geteuid() != 0 and shutil.which("initdb") is None:
        pytest.skip("initdb is not on PATH: the infra soak needs PostgreSQL's server programs")

    def run(*args: str, timeout: float) -> dict:
        environment = {
            key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "DATABASE_URL")
        }
        environment.update(SECRET_KEY=settings.SECRET_KEY, PYTHONUNBUFFERED="1")
        command = [sys.executable, "manage.py", "soak", "--faults", "infra", "--json"]
        command += ["--log-dir", str(tmp_path)]
        done = subprocess.run(
            [*command, *args],
            cwd=settings.BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        print(done.stderr[-20000:])  # the running commentary, shown when the test fails
        return report_of(done)

    return run


def report_of(done: subprocess.CompletedProcess) -> dict:
    """The soak's JSON report with its exit status, or a failure that shows what it printed."""
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"the soak printed no report (exit {done.returncode}):\n{done.stdout}") from None
    report["exit_status"] = done.returncode
    return report
