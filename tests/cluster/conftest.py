"""Run real `qcluster` processes against pytest's test database, and always stop them.

A real cluster does not see pytest's test transaction: these tests commit their data
(ENGINE_DB is transactional) and point the cluster at the test database through DATABASE_URL.
Every process started here runs in its own session, so stopping it kills its whole process
group (the cluster's workers included), and it is stopped before pytest flushes the database.
"""

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from fulfillment.simulators.picker import simulated_picker_run
from tests.external_processes import emptied_redis_database, wait_for_sessions_to_close

# Every database session of a process started here carries this name (libpq reads PGAPPNAME),
# so the teardown can wait until all of them are gone before pytest flushes the tables.
APP_NAME = "fulfillment-cluster-test"
REDIS_TEST_URL = "redis://127.0.0.1:6379/7"
STOP_GRACE = 3.0


def cluster_database_url() -> str:
    """The URL of pytest's test database (NAME is the test database's name by now)."""
    db = connection.settings_dict
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}{port}/{quote(db['NAME'], safe='')}"


def cluster_environment(**overrides: str) -> dict[str, str]:
    """The environment of a deployment on the test database: no random faults, no picker.

    Every process shares the test process's SECRET_KEY: django-q2 signs each queued task with
    it, and a task signed under another key is refused ("Failed to push task to queue").
    """
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    env.update(
        SECRET_KEY=settings.SECRET_KEY,
        DATABASE_URL=cluster_database_url(),
        PGAPPNAME=APP_NAME,
        PYTHONUNBUFFERED="1",
        Q_WORKERS="2",
        SWEEP_INTERVAL="0.2",
        SIM_TRANSIENT_ERROR_RATE="0",
        SIM_AMBIGUOUS_TIMEOUT_RATE="0",
        SIM_LATENCY_MS="0",
        SIMULATED_PICKER="0",
    )
    env.update(overrides)
    return env


def manage(*args: str, env: dict[str, str]) -> str:
    """Run a one-off `manage.py` command in that environment; returns its output."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


class Background:
    """A long-running `manage.py` command in its own process group, logging to a file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path):
        self.args, self.env, self.log_path = args, env, log_path
        with open(log_path, "wb") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def kill(self) -> None:
        """SIGKILL the whole group at once, as a crashed machine would leave it."""
        self._signal_group(signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM the group, give it a few seconds, then SIGKILL whatever is left of it."""
        if self.popen.poll() is None:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=STOP_GRACE)
        self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the whole group has exited
            os.killpg(self.popen.pid, signum)  # the session leader's pid is the group's id


@pytest.fixture
def start_cluster(transactional_db, tmp_path):
    """Start a qcluster (with the sweeper loop enqueued first); stopped before the flush.

    Depending on the database fixture makes this teardown run before pytest-django's, which
    flushes the tables. The logs of everything started are printed at teardown: pytest shows
    them when the test failed.
    """
    if connection.vendor != "postgresql":
        pytest.skip("real clusters need a shared database: run with DATABASE_URL=postgres://...")
    started: list[Background] = []

    def start(*, sweeper: bool = True, picker: bool = False, **env: str) -> Background:
        environment = cluster_environment(**env)
        if sweeper:
            manage("setup_schedules", env=environment)
        number = len(started) + 1
        cluster = Background(["qcluster"], environment, tmp_path / f"qcluster-{number}.log")
        started.append(cluster)
        if picker:
            args = ["simulate_picker", "--delay", "0"]
            started.append(Background(args, environment, tmp_path / f"picker-{number}.log"))
        return cluster

    yield start
    for process in started:
        process.stop()
    for process in started:
        print(f"----- manage.py {' '.join(process.args)} (exit {process.popen.returncode}) -----")
        print(process.log())
    wait_for_sessions_to_close(APP_NAME, timeout=10.0)


@pytest.fixture
def redis_url():
    """A spare Redis database for the broker, emptied before and after; skip without Redis.

    Request it before `start_cluster`, so that the cluster is stopped before the flush.
    """
    yield from emptied_redis_database(REDIS_TEST_URL, "the Redis broker is not tested")


def wait_for(condition: Callable[[], object], *, what: str, timeout: float = 60.0, pick: bool = True):
    """Poll the database until `condition()` is true, or fail after `timeout` seconds.

    With `pick`, the test stands in for the warehouse while it waits: it confirms open pick
    tasks, whose wake-ups go through the test process's broker (the ORM one).
    """
    deadline = time.monotonic() + timeout
    while True:
        if pick:
            simulated_picker_run(delay=0)
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.2)
