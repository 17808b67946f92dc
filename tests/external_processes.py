"""Helpers for tests that run real processes (clusters, soaks, gunicorn) against the test database."""

import contextlib
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection


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


class ThrowawayRedis:
    """A redis-server of the test's own on a free loopback port, to stop and start at will (the
    machine's shared Redis is never stopped by a test)."""

    def __init__(self):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        server = shutil.which("redis-server") or pytest.skip("no redis-server on this machine")
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.process = subprocess.Popen(
            [server, *options], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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


class ThrowawayPostgres:
    """A PostgreSQL server of the test's own, to stop and start at will (the machine's shared one
    is never stopped by a test): initdb and pg_ctl run as the `postgres` OS user, its data in a
    temporary directory, listening on a free loopback port only. `remove()` stops it and deletes
    its directory."""

    def __init__(self):
        self.bin = _postgres_bin() or pytest.skip("no PostgreSQL server binaries on this machine")
        if os.geteuid() != 0:
            pytest.skip("initdb and pg_ctl run as the postgres user: the test must run as root")
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="throwaway-postgres-"))
        shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._as_postgres("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c fsync=off "
            f"-c unix_socket_directories={self.directory}"
        )
        log = str(self.directory / "server.log")
        self._as_postgres("pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "-t", "30", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._as_postgres("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _as_postgres(self, program: str, *args: str, check: bool = True) -> None:
        command = " ".join(shlex.quote(part) for part in (str(self.bin / program), *args))
        done = subprocess.run(
            ["su", "postgres", "-c", command], capture_output=True, text=True, timeout=60, cwd="/"
        )
        if check and done.returncode:
            raise AssertionError(f"{program} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _postgres_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory (Debian keeps them by major version)."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: int(p.parts[-3]))
    return versions[-1].parent if versions else None
