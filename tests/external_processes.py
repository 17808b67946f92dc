"""Helpers for tests that run real processes (clusters, soaks, gunicorn) against the test database."""

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
