"""Helpers for tests that run real processes (clusters, soaks, gunicorn) against the test database."""

import shutil
import socket
import subprocess
import time

import pytest
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
