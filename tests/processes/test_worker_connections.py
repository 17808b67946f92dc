"""A worker's task skips the connection's health check only right after a task that went well."""

import time

import pytest
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

from processes import worker_connections

pytestmark = pytest.mark.django_db(transaction=True)


connection = connections[DEFAULT_DB_ALIAS]  # the wrapper itself, not the proxy


@pytest.fixture
def checks(monkeypatch):
    """Count the health checks (`is_usable`, a `SELECT 1`) the next query makes, with
    CONN_HEALTH_CHECKS on as in production."""
    connection.ensure_connection()
    enabled = connection.health_check_enabled
    connection.health_check_enabled = True
    worker_connections._ended_well.clear()
    made = []
    real = connection.is_usable

    def counting():
        made.append(1)
        return real()

    monkeypatch.setattr(connection, "is_usable", counting)
    yield made
    connection.health_check_enabled = enabled


def _next_task() -> None:
    """What a worker does between two tasks: django-q2's close_old_connections, then our signal;
    then the task's first query."""
    close_old_connections()
    worker_connections.on_task_starting()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")


def test_a_connection_that_just_ended_a_task_is_not_checked_again(checks):
    """Back to back, the second task's first query goes straight to the server."""
    connection.ensure_connection()
    worker_connections.on_task_ended()
    _next_task()
    assert checks == []


def test_a_connection_idle_past_fresh_for_is_checked(checks, monkeypatch):
    """A task after a pause (or the worker's first) begins with Django's health check, as before."""
    connection.ensure_connection()
    # From the real clock: Django's CONN_MAX_AGE reads the same time.monotonic, and a made-up
    # time past the connection's close_at (a machine up for less than that) would close it.
    now = [time.monotonic()]
    monkeypatch.setattr(worker_connections.time, "monotonic", lambda: now[0])
    worker_connections.on_task_ended()
    now[0] += worker_connections.FRESH_FOR
    _next_task()
    assert checks == [1]
    _next_task()  # no task ended in between: nothing vouches for the connection
    assert checks == [1, 1]


def test_a_connection_whose_task_met_an_error_is_checked(checks):
    """An error inside the last task (the server went away, say) means the check is made."""
    connection.ensure_connection()
    connection.errors_occurred = True
    worker_connections.on_task_ended()
    connection.errors_occurred = False
    _next_task()
    assert checks == [1]
