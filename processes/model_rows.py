"""A model's rows read by a statement written once, and loaded as a queryset loads them.

The engine reads a few rows on every step (the process row it locks, the circuit of the step's
service). Through a queryset each read builds its statement anew (clone, filter, compile), which
costs far more CPU than sending it; the statement never changes, so its callers write it once
per model and database from what `select_columns` gives, send it as it is (PostgreSQL prepares it
from its second use: settings.DB_PREPARED_STATEMENTS) and turn the row back into a model
instance with `load`: the fields' own converters, then `Model.from_db`.
"""

from dataclasses import dataclass

from django.db import connections


@dataclass(frozen=True)
class Columns:
    """A model's concrete columns in field order, ready to select and to load from."""

    table: str  # quoted
    select: str  # "SELECT <every column> FROM <table>"
    attnames: list
    converters: list  # (index, [converter, ...], expression) for columns that need converting


_built: dict[tuple, Columns] = {}


def select_columns(model, using: str) -> Columns:
    """The model's columns on database `using`, worked out once per process."""
    key = (model, using)
    if key not in _built:
        _built[key] = _columns(model, connections[using])
    return _built[key]


def load(model, using: str, columns: Columns, row):
    """The model instance of `row` (selected as `columns.select` does), as a queryset gives it."""
    connection = connections[using]
    values = list(row)
    for index, converters, expression in columns.converters:
        for converter in converters:
            values[index] = converter(values[index], expression, connection)
    return model.from_db(using, columns.attnames, values)


def fetch_one(using: str, sql: str, params: list):
    """The first row `sql` answers, or None."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _columns(model, connection) -> Columns:
    meta, quote = model._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    fields = list(meta.concrete_fields)
    listed = ", ".join(f"{table}.{quote(field.column)}" for field in fields)
    converters = []
    for index, field in enumerate(fields):
        expression = field.cached_col
        found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        if found:
            converters.append((index, found, expression))
    return Columns(
        table=table,
        select=f"SELECT {listed} FROM {table}",
        attnames=[field.attname for field in fields],
        converters=converters,
    )
