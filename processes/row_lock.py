"""Lock a process row and load it, with a statement built once per model instead of per call.

The runner locks the process row at every step: the claim (`SKIP LOCKED`, only if it is due)
and the apply (waiting for the lock: the lease check needs the row as it is now). Through a
queryset, each lock built its statement anew (clone, filter, compile: most of its cost, a
quarter of a worker's CPU on a no-op step); the statement never changes, so it is written here
once per model and database, from the model's fields, and sent as it is (PostgreSQL prepares
it from its second use: settings.DB_PREPARED_STATEMENTS). The row comes back through the
fields' own converters and `Model.from_db`, as a queryset would give it. Where the database
has no `FOR UPDATE` (SQLite) the statement leaves it out, as the ORM does.
"""

from dataclasses import dataclass

from django.db import connections, router


@dataclass(frozen=True)
class _Statements:
    """A process model's two lock statements, its columns in order and their converters."""

    lock: str
    claim: str
    attnames: list
    converters: list  # (index, [converter, ...], expression) for columns that need converting


_built: dict[tuple, _Statements] = {}


def lock(model, pk):
    """The process row `pk`, locked for this transaction (waiting for another holder)."""
    using = router.db_for_write(model)
    connection = connections[using]
    statements = _statements(model, using)
    row = _fetch(connection, statements.lock, [_pk(model, pk, connection)])
    if row is None:
        raise model.DoesNotExist(f"{model._meta.object_name} {pk} does not exist.")
    return _load(model, using, connection, statements, row)


def claim_due(model, pk, now):
    """The process row `pk` locked for this transaction if it is due at `now` and no one else
    holds its lock; None otherwise (SKIP LOCKED)."""
    using = router.db_for_write(model)
    connection = connections[using]
    statements = _statements(model, using)
    due = model._meta.get_field("next_run_at").get_db_prep_value(now, connection)
    row = _fetch(connection, statements.claim, [_pk(model, pk, connection), due])
    return None if row is None else _load(model, using, connection, statements, row)


def _pk(model, pk, connection):
    field = model._meta.pk
    return field.get_db_prep_value(field.to_python(pk), connection)


def _fetch(connection, sql: str, params: list):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _load(model, using, connection, statements: _Statements, row):
    values = list(row)
    for index, converters, expression in statements.converters:
        for converter in converters:
            values[index] = converter(values[index], expression, connection)
    return model.from_db(using, statements.attnames, values)


def _statements(model, using: str) -> _Statements:
    key = (model, using)
    if key not in _built:
        _built[key] = _build(model, connections[using])
    return _built[key]


def _build(model, connection) -> _Statements:
    meta, quote = model._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    fields = list(meta.concrete_fields)
    columns = ", ".join(f"{table}.{quote(field.column)}" for field in fields)
    select = f"SELECT {columns} FROM {table} WHERE {table}.{quote(meta.pk.column)} = %s"
    due = f" AND {table}.{quote(meta.get_field('next_run_at').column)} <= %s"
    lock = claim = ""
    if connection.features.has_select_for_update:
        lock = " " + connection.ops.for_update_sql()
        claim = " " + connection.ops.for_update_sql(skip_locked=True)
    converters = []
    for index, field in enumerate(fields):
        expression = field.cached_col
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if found:
            converters.append((index, found, expression))
    return _Statements(
        lock=select + lock,
        claim=select + due + claim,
        attnames=[field.attname for field in fields],
        converters=converters,
    )
