"""`make run` migrates an empty SQLite file: every migration must apply there from zero.

SQLite copies a table to change it and then builds again every index the migration state
knows, PostgreSQL-only ones included, so a later migration can break on an index an earlier
one skipped. The suite runs on PostgreSQL; this test alone walks the migrations on SQLite.
"""

import pytest
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import ConnectionHandler


@pytest.mark.django_db
def test_every_migration_applies_to_an_empty_sqlite_file(tmp_path):
    handler = ConnectionHandler(
        {
            alias: {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "demo.sqlite3")}
            for alias in ("default", "simulators")
        }
    )
    connection = handler["default"]
    try:
        executor = MigrationExecutor(connection)
        leaves = executor.loader.graph.leaf_nodes()
        executor.migrate(leaves)

        executor.loader.build_graph()
        assert executor.migration_plan(leaves) == []
        tables = set(connection.introspection.table_names())
        assert {"fulfillment_order", "processes_stepattempt", "django_q_ormq"} <= tables
        with connection.cursor() as cursor:
            cursor.execute("select name from sqlite_master where type = 'index' and name like '%trgm%'")
            assert cursor.fetchall() == []
    finally:
        handler.close_all()
