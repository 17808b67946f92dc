"""django-q2's database broker, with fewer statements per task on PostgreSQL.

The queue is django-q2's `OrmQ` table and keeps its meaning: a row is a task; a row whose
`lock` lies in the future has been taken by a cluster; the monitor deletes it once the task
has run (acknowledge); a taken row that is never deleted is taken again once its lock has
passed, `retry` seconds after it was taken (at-least-once delivery, which the engine's
sweeper and the chaos tools rely on). `queue_size`, `lock_size`, the admin's queue page and
anyone deleting rows see the same table as with django-q2's own broker.

What changes is the statements. Per task django-q2's broker sends, each in its own commit: a
SELECT of the waiting rows and a conditional UPDATE of each to take it (dequeue), a DELETE
through the ORM's collector (acknowledge), and before every one of them
`close_old_connections`, which with CONN_HEALTH_CHECKS makes the next statement a `SELECT 1`.
On PostgreSQL this broker sends:

- dequeue: one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, which
  takes one row, or up to `bulk` at once while takes come back full (a queue under load); two
  clusters never take the same row, since a row another one is taking is skipped and a taken
  row's lock lies in the future;
- acknowledge: inside a cluster, no statement of its own: the monitor hands the task's id to
  the pusher, whose next dequeue deletes it (processes.orm_acks); elsewhere one DELETE;
- enqueue: one INSERT;
- the connection check at most every CHECK_EVERY seconds in a process, and at once after a
  statement failed (Django then marks the connection), instead of before every statement.

Elsewhere (SQLite, which `make run` uses, has no SKIP LOCKED) it is django-q2's code as it is.
Times come from the engine's clock, so tests can move past a task's lock instead of sleeping.
"""

import functools
import time
from datetime import timedelta

from django import db
from django.db import connections
from django.utils.module_loading import import_string
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ

from processes import clock, orm_acks

# Seconds between two checks of a process's database connections (django-q2 checks before
# every statement): a connection that died while idle is found by its next statement at worst.
CHECK_EVERY = 1.0

_checked_at = -CHECK_EVERY  # time.monotonic() of this process's last check


class CheaperOrm(ORM):
    """django-q2's ORM broker, sending one statement per operation on PostgreSQL."""

    # Tasks the next take asks for: one while the queue is short, so that several clusters
    # share a trickle of tasks as before; twice as many after a take that came back full (more
    # are likely waiting), up to django-q2's `bulk`.
    _take = 1

    def __init__(self, list_key: str | None = None):
        super().__init__(list_key=list_key)
        if _on_postgresql():
            orm_acks.open_pipe()  # before django-q2's sentinel forks its monitor and pusher

    def get_connection(self, list_key: str | None = None):
        _check_connections()
        return OrmQ.objects.using(Conf.ORM)

    def enqueue(self, task):
        if not _on_postgresql():
            return super().enqueue(task)
        # list_key may be unset (django-q2's test setups); the column is NOT NULL.
        params = [self.list_key or Conf.CLUSTER_NAME, task, clock.now()]
        return _fetch(_statements().enqueue, params)[0][0]

    def dequeue(self):
        if not _on_postgresql():
            return super().dequeue()
        now = clock.now()
        acknowledged = orm_acks.take_handed()
        take = min(self._take, Conf.BULK)
        params = [
            acknowledged,
            now + timedelta(seconds=Conf.RETRY),
            self.list_key,
            now,
            acknowledged,
            take,
        ]
        tasks = sorted(_fetch(_statements().dequeue, params))
        self._take = min(take * 2, Conf.BULK) if len(tasks) == take else 1
        if tasks:
            return tasks
        time.sleep(Conf.POLL)  # an empty queue: look again after `poll`, as django-q2 does
        return None

    def delete(self, task_id):
        if not _on_postgresql():
            return super().delete(task_id)
        _delete([task_id])
        return None

    def acknowledge(self, task_id):
        if _on_postgresql() and orm_acks.hand_over(task_id, _delete):
            return None
        return self.delete(task_id)


class _Statements:
    """The broker's SQL, written once from the model's table and column names."""

    def __init__(self):
        quote = connections[Conf.ORM].ops.quote_name
        table = quote(OrmQ._meta.db_table)
        key, lock, payload = (quote(OrmQ._meta.get_field(name).column) for name in ("key", "lock", "payload"))
        self.enqueue = f"INSERT INTO {table} ({key}, {payload}, {lock}) VALUES (%s, %s, %s) RETURNING id"
        # The lock is the time until which the task is taken; at that time it is free again,
        # as for django-q2's queue_size (lock <= now is waiting). The tasks the monitor has
        # acknowledged since the last take are deleted in the same statement, and never taken
        # again by it (a task that ran past its lock would otherwise be updated and deleted at once).
        self.dequeue = (
            f"WITH acknowledged AS (DELETE FROM {table} WHERE id = ANY(%s::bigint[])) "
            f"UPDATE {table} SET {lock} = %s WHERE id IN ("
            f"SELECT id FROM {table} WHERE {key} = %s AND {lock} <= %s AND id <> ALL(%s::bigint[]) "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
            f") RETURNING id, {payload}"
        )
        self.delete = f"DELETE FROM {table} WHERE id = ANY(%s::bigint[])"


_written: _Statements | None = None


def _statements() -> _Statements:
    global _written
    if _written is None:
        _written = _Statements()
    return _written


def _delete(task_ids: list[int]) -> None:
    _fetch(_statements().delete, [task_ids], rows=False)


def _on_postgresql() -> bool:
    return connections[Conf.ORM].vendor == "postgresql"


def _fetch(sql: str, params: list, *, rows: bool = True) -> list:
    _check_connections()
    with connections[Conf.ORM].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if rows else []


def _check_connections() -> None:
    """Close this process's stale or broken connections, as django-q2 does before each
    statement, but at most every CHECK_EVERY seconds, and never inside a transaction (the
    connection is in use there; django-q2 skips it too)."""
    global _checked_at
    connection = connections[Conf.ORM]
    if not connection.get_autocommit():
        return
    now = time.monotonic()
    if connection.errors_occurred or now - _checked_at >= CHECK_EVERY:
        db.close_old_connections()
        _checked_at = now


def enqueues_commit_with(alias: str) -> bool:
    """Whether a task enqueued now inside a transaction on the database `alias` is written in
    that transaction, committing and rolling back with it: the configured broker is a database
    broker on that same database, and tasks are not run in the caller (django-q2's `sync`)."""
    return not Conf.SYNC and alias == Conf.ORM and _broker_is_orm()


@functools.cache
def _broker_is_orm() -> bool:
    # django-q2 reads its settings once, at import: so can this.
    return bool(Conf.BROKER_CLASS) and issubclass(import_string(Conf.BROKER_CLASS), ORM)
