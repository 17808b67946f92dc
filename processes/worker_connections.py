"""Skip the database health check of a worker's task when its connection just served another.

Before each task django-q2 calls Django's `close_old_connections()`, which (with
CONN_HEALTH_CHECKS, on in our settings) makes the task's first query begin with a `SELECT 1`
round trip to see that the connection still works: one statement and one commit more per task,
most of the queue's share of a no-op workflow's database work. A worker taking tasks back to
back learns nothing from it that its last task did not show a moment ago, so a connection that
ended a task without an error less than FRESH_FOR seconds before the next task starts is
trusted as it stands; an idle one is still checked, and an error or CONN_MAX_AGE still closes
it as before. If the server goes away inside that second the task fails on its first
statement, as it would had the server gone a moment after the check: the process stays due
and the sweeper wakes it again.

Sent by django-q2 in the worker process: `post_execute_in_worker` after a task,
`pre_execute` before the next (after its `close_old_connections()`).
"""

import time

from django.db import connections

# Seconds after a task's end during which its connections are trusted without a check.
FRESH_FOR = 1.0

# When each connection (by alias) last ended a task without an error, time.monotonic().
_ended_well: dict[str, float] = {}


def on_task_ended(**kwargs) -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.errors_occurred:
            _ended_well[connection.alias] = now
        else:
            _ended_well.pop(connection.alias, None)


def on_task_starting(**kwargs) -> None:
    now = time.monotonic()
    for connection in connections.all(initialized_only=True):
        ended = _ended_well.pop(connection.alias, None)
        fresh = ended is not None and now - ended < FRESH_FOR
        if fresh and connection.connection is not None and not connection.errors_occurred:
            connection.health_check_done = True
