"""Lock a process row and load it, with a statement built once per model instead of per call.

The runner locks the process row at every step: the claim (`SKIP LOCKED`, only if it is due)
and the apply (waiting for the lock: the lease check needs the row as it is now). Through a
queryset, each lock built its statement anew (clone, filter, compile: most of its cost, a
quarter of a worker's CPU on a no-op step); the statement never changes, so it is written here
once per model and database, from the model's fields (processes.model_rows), and sent as it is.
The row comes back as a queryset would give it. Where the database has no `FOR UPDATE`
(SQLite) the statement leaves it out, as the ORM does.
"""

from dataclasses import dataclass

from django.db import connections, router

from processes import model_rows


@dataclass(frozen=True)
class _Statements:
    """A process model's two lock statements and the columns they select."""

    lock: str
    claim: str
    columns: model_rows.Columns


_built: dict[tuple, _Statements] = {}


def lock(model, pk):
    """The process row `pk`, locked for this transaction (waiting for another holder)."""
    using = router.db_for_write(model)
    statements = _statements(model, using)
    row = model_rows.fetch_one(using, statements.lock, [_pk(model, pk, connections[using])])
    if row is None:
        raise model.DoesNotExist(f"{model._meta.object_name} {pk} does not exist.")
    return model_rows.load(model, using, statements.columns, row)


def claim_due(model, pk, now):
    """The process row `pk` locked for this transaction if it is due at `now` and no one else
    holds its lock; None otherwise (SKIP LOCKED)."""
    using = router.db_for_write(model)
    connection = connections[using]
    statements = _statements(model, using)
    due = model._meta.get_field("next_run_at").get_db_prep_value(now, connection)
    row = model_rows.fetch_one(using, statements.claim, [_pk(model, pk, connection), due])
    return None if row is None else model_rows.load(model, using, statements.columns, row)


def _pk(model, pk, connection):
    field = model._meta.pk
    return field.get_db_prep_value(field.to_python(pk), connection)


def _statements(model, using: str) -> _Statements:
    key = (model, using)
    if key not in _built:
        _built[key] = _build(model, using)
    return _built[key]


def _build(model, using: str) -> _Statements:
    connection, meta = connections[using], model._meta
    columns, quote = model_rows.select_columns(model, using), connection.ops.quote_name
    table = columns.table
    select = f"{columns.select} WHERE {table}.{quote(meta.pk.column)} = %s"
    due = f" AND {table}.{quote(meta.get_field('next_run_at').column)} <= %s"
    lock = claim = ""
    if connection.features.has_select_for_update:
        lock = " " + connection.ops.for_update_sql()
        claim = " " + connection.ops.for_update_sql(skip_locked=True)
    return _Statements(lock=select + lock, claim=select + due + claim, columns=columns)
