"""Helpers for tests that run real processes (clusters, soaks, gunicorn) against the test database."""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from fulfillment.proving.throwaway_servers import (
    ThrowawayPostgres,
    ThrowawayRedis,
    free_port,
    postgres_installed,
)


def wait_for_sessions_to_close(app_name: str, *, timeout: float = 15.0) -> None:
    """Wait until the database sessions tagged `app_name` (PGAPPNAME) have ended.

    A killed client's session ends on its own shortly; one left open would block pytest's flush.
    """
    query = "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()"
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute(query, [app_name])
            pids = [row[0] for row in cursor.fetchall()]
            if not pids:
                return
            if time.monotonic() > deadline:
                cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", [pids])
                raise AssertionError(f"sessions of stopped processes ({app_name}) were still open: {pids}")
            time.sleep(0.1)


def redis_client_or_skip(url: str, why: str):
    """A client of the Redis database at `url`, or skip the test when no Redis answers."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis answers at {url} ({error}): {why}")
    return client


def emptied_redis_database(url: str, why: str):
    """Yield `url` with its Redis database emptied before and after (a fixture's body)."""
    client = redis_client_or_skip(url, why)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


def throwaway_redis() -> ThrowawayRedis:
    """A Redis of the test's own (fulfillment.proving.throwaway_servers), or skip without redis-server."""
    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server on this machine")
    return ThrowawayRedis()


def throwaway_postgres() -> ThrowawayPostgres:
    """A PostgreSQL of the test's own (fulfillment.proving.throwaway_servers), or skip without one."""
    if not postgres_installed():
        pytest.skip("no PostgreSQL server programs on this machine")
    return ThrowawayPostgres()


@contextlib.contextmanager
def running_postgres(database: str):
    """A throwaway PostgreSQL, started, with `database` created in it; at the end its log is
    printed (pytest shows it for a failed test) and its files removed."""
    server = throwaway_postgres()
    try:
        server.init()
        server.start()
        with psycopg.connect(server.url("postgres"), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {database}")
        yield server
    finally:
        print(f"----- throwaway PostgreSQL log -----\n{server.log()}")
        server.remove()


class WebServer:
    """`gunicorn fulfillment.wsgi` (as the Procfile runs it) on a free loopback port, in a session
    of its own so that stopping it stops its workers too; its log is kept in `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": "1"}
        self.log_path = log_path
        self.popen: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), "fulfillment.wsgi"],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise AssertionError(f"gunicorn exited:\n{self.log()}")
            with contextlib.suppress(OSError):
                if self.request("GET", "/healthz")[0] == 200:
                    return
            time.sleep(0.2)
        raise AssertionError(f"gunicorn did not answer in 30 s:\n{self.log()}")

    def stop(self) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def request(self, method: str, path: str, body: bytes | None = None, **headers: str):
        """(status, headers, body text) of one request; never raises on an HTTP error status."""
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
