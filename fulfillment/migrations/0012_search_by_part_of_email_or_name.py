"""Trigram indexes for searching orders by part of an email or of the customer's name.

PostgreSQL only: pg_trgm (a contrib extension every PostgreSQL package ships) is created here,
and the GIN indexes are built only there. On SQLite (`make run`) both are skipped and the
search reads the table, which is fine at a demo's size; the migration state has the indexes
either way, so makemigrations stays quiet on both. The index class itself builds nothing
outside PostgreSQL, since SQLite rebuilds a model's indexes whenever a later migration changes
its table (fulfillment.models.search_indexes).
"""

from django.contrib.postgres.indexes import OpClass
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Upper

from fulfillment.models.search_indexes import PostgresOnlyGinIndex


class AddIndexOnPostgreSQL(migrations.AddIndex):
    """AddIndex whose index is built on PostgreSQL only (a GIN trigram index means nothing elsewhere)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("fulfillment", "0011_return_attention_since"),
    ]

    operations = [
        TrigramExtension(),  # skips itself on other databases
        AddIndexOnPostgreSQL(
            model_name="order",
            index=PostgresOnlyGinIndex(OpClass(Upper("email"), name="gin_trgm_ops"), name="order_email_trgm"),
        ),
        AddIndexOnPostgreSQL(
            model_name="order",
            index=PostgresOnlyGinIndex(
                OpClass(Upper(KeyTextTransform("name", "shipping_address")), name="gin_trgm_ops"),
                name="order_customer_name_trgm",
            ),
        ),
    ]
