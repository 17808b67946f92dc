"""Write what one of the runner's transactions changed in a single statement.

A transaction that applies a call's answer and claims the next call (processes.runner) ends
with four writes: the process row's changed columns, its journal events (the transition, any
notes), the finished attempt's row and the next attempt's. Sent one by one, each was a round
trip and a statement built by the ORM (half a worker's CPU on a no-op step); here they go
as one PostgreSQL statement of data-modifying WITH parts:

    WITH w1 AS (INSERT INTO journal ...), w2 AS (UPDATE attempt ...),
         w3 AS (UPDATE process ...) INSERT INTO attempt ... RETURNING id

Each part writes rows no other part touches, so their order does not matter, and the whole
commits or rolls back with the transaction as the separate writes did. The statement is
written once per shape (the columns that changed, how many events and attempts) from the
models' fields, and its values converted by the fields as the ORM converts them. What the rows
say and when does not change: the running attempt is committed before its call (recovery finds
it, processes.leases.abandon), the finished one in the transaction that applies its answer,
the journal with the row (processes.journal). The row's pre_save and post_save are sent as a
save sends them. Elsewhere (SQLite, or the journal routed to another database), for a row not
under `track_changes()` or one holding an expression (F()), the writes go through the ORM one
by one.
"""

from django.db import DatabaseError, connections, router
from django.db.models.signals import post_save, pre_save

from processes import attempt_rows, clock, journal
from processes.models.journal import ProcessEvent, StepAttempt

_written: dict[tuple, str] = {}


def save(process, started: list[StepAttempt] = (), finished: attempt_rows.Finished | None = None) -> None:
    """Save the locked, tracked `process` with its journal events, update the `finished`
    attempt and insert the `started` ones (which get their ids), in one statement."""
    model = type(process)
    using = router.db_for_write(model)
    connection = connections[using]
    tracked = "_loaded" in process.__dict__
    if tracked:
        process.updated_at = clock.now()
        changed = process.changed_fields()
    if not _one_statement_for(using, connection) or not tracked or _expressions(process, changed):
        attempt_rows.write(list(started), finished)
        process.save()
        return
    names = sorted(changed)
    pre_save.send(sender=model, instance=process, raw=False, using=using, update_fields=frozenset(changed))
    events = journal.take(process)
    shape = (model, using, tuple(names), len(events), finished and tuple(finished[1]), len(started))
    if shape not in _written:
        _written[shape] = _statement(connection, model, names, len(events), finished, len(started))
    params = _insert_params(connection, ProcessEvent, events)
    if finished:
        params += _update_params(connection, StepAttempt, finished[1], finished[0])
    params += _row_params(connection, process, names)
    params += _insert_params(connection, StepAttempt, started)
    with connection.cursor() as cursor:
        cursor.execute(_written[shape], params)
        if started:
            _took_ids(started, [row[0] for row in cursor.fetchall()], using)
        elif cursor.rowcount != 1:
            raise DatabaseError(f"{model._meta.object_name} {process.pk} was not there to save.")
    post_save.send(
        sender=model,
        instance=process,
        created=False,
        update_fields=frozenset(changed),
        raw=False,
        using=using,
    )
    process.track_changes()


def _statement(connection, model, names, events: int, finished, started: int) -> str:
    """The statement's parts in a fixed order, the last one outside the WITH: the started
    attempts' INSERT when there are any (for their ids), else the row's UPDATE (its count)."""
    parts = []
    if events:
        parts.append(_insert_sql(connection, ProcessEvent, events))
    if finished:
        parts.append(_update_sql(connection, StepAttempt, list(finished[1])))
    parts.append(_update_sql(connection, model, names))
    if started:
        parts.append(_insert_sql(connection, StepAttempt, started, returning=True))
    *before, last = parts
    if not before:
        return last
    named = ", ".join(f"w{index} AS ({sql})" for index, sql in enumerate(before, 1))
    return f"WITH {named} {last}"


def _update_sql(connection, model, names) -> str:
    meta, quote = model._meta, connection.ops.quote_name
    sets = ", ".join(f"{quote(meta.get_field(name).column)} = %s" for name in names)
    return f"UPDATE {quote(meta.db_table)} SET {sets} WHERE {quote(meta.pk.column)} = %s"


def _insert_sql(connection, model, rows: int, returning: bool = False) -> str:
    meta, quote = model._meta, connection.ops.quote_name
    fields = _inserted(model)
    columns = ", ".join(quote(field.column) for field in fields)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES {', '.join([row] * rows)}"
    return f"{sql} RETURNING {quote(meta.pk.column)}" if returning else sql


def _inserted(model) -> list:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def _row_params(connection, process, names) -> list:
    meta = type(process)._meta
    values = [_value(connection, meta.get_field(name), process, add=False) for name in names]
    return [*values, meta.pk.get_db_prep_value(process.pk, connection)]


def _update_params(connection, model, values: dict, pk) -> list:
    meta = model._meta
    converted = [meta.get_field(name).get_db_prep_save(value, connection) for name, value in values.items()]
    return [*converted, meta.pk.get_db_prep_value(pk, connection)]


def _insert_params(connection, model, objs) -> list:
    fields = _inserted(model)
    return [_value(connection, field, obj, add=True) for obj in objs for field in fields]


def _value(connection, field, obj, *, add: bool):
    """The field's value as Model.save and bulk_create send it: its pre_save, then converted."""
    return field.get_db_prep_save(field.pre_save(obj, add), connection)


def _one_statement_for(using: str, connection) -> bool:
    """Whether the row, its journal and its attempts can go in one statement: PostgreSQL, and
    all three on the same database."""
    same = router.db_for_write(ProcessEvent) == router.db_for_write(StepAttempt) == using
    return same and connection.vendor == "postgresql"


def _expressions(process, changed) -> bool:
    """Whether a changed field holds an expression (F(), ...), which only the ORM writes."""
    return any(hasattr(getattr(process, name), "resolve_expression") for name in changed)


def _took_ids(started: list[StepAttempt], ids: list, using: str) -> None:
    for attempt, pk in zip(started, ids, strict=True):
        attempt.pk = pk
        attempt._state.adding, attempt._state.db = False, using
