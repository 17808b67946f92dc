"""Indexes that only PostgreSQL can build, kept out of the way of the embedded SQLite.

The trigram indexes behind the console's search by part of a name are GIN indexes with
pg_trgm's operator class. SQLite (`make run`) has neither, and it does not skip them by itself:
when a migration changes a table there, SQLite copies the table and builds again every index
of the model as the migration state knows it. So the index says for itself that it is built on
PostgreSQL only: elsewhere its statements are empty and the search reads the table, which is
fine at a demo's size.
"""

from django.contrib.postgres.indexes import GinIndex


class PostgresOnlyGinIndex(GinIndex):
    """A GIN index on PostgreSQL; no statement at all on any other database."""

    def create_sql(self, model, schema_editor, using="", **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return ""
        return super().create_sql(model, schema_editor, using=using, **kwargs)

    def remove_sql(self, model, schema_editor, **kwargs):
        if schema_editor.connection.vendor != "postgresql":
            return ""
        return super().remove_sql(model, schema_editor, **kwargs)
