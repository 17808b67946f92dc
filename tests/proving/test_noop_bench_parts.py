"""The noop bench's parts that need no cluster: WAL attributed to one database, CPU from /proc,
percentiles, and the table a person reads."""

import os
import uuid

import psycopg
import pytest
from django.db import connection

from fulfillment.proving import noop_figures, noop_report, wal_attribution
from fulfillment.proving.run_meter import (
    MAINTENANCE_DATABASE,
    BackendCpu,
    server_connection,
    tree_cpu_seconds,
)


def record(rmgr: str, size: int, xid: int, desc: str) -> str:
    """A line as pg_waldump (PostgreSQL 15) prints a record."""
    return (
        f"rmgr: {rmgr:<11} len (rec/tot): {size:>6}/{size:>6}, tx: {xid:>10}, lsn: 0/01000028, desc: {desc}"
    )


# Transaction 700 writes to database 16384, 701 to another one.
WAL = [
    record("Heap", 186, 700, "INSERT off 4 flags 0x00, blkref #0: rel 1663/16384/16385 blk 0 FPW"),
    record("Heap", 54, 701, "INSERT off 5 flags 0x00, blkref #0: rel 1663/99999/16385 blk 0"),
    record("Btree", 64, 700, "INSERT_LEAF off 22, blkref #0: rel 1663/16384/16390 blk 5"),
    record("Standby", 50, 0, "RUNNING_XACTS nextXid 702 latestCompletedXid 699 oldestRunningXid 700"),
    record("Transaction", 34, 701, "COMMIT 2026-12-06 16:00:00.000000 UTC"),
    record("Transaction", 34, 700, "COMMIT 2026-12-06 16:00:00.000001 UTC"),
    record("Heap2", 56, 0, "PRUNE latestRemovedXid 690 ndead 1, blkref #0: rel 1663/16384/16385 blk 0"),
]


def test_a_database_is_charged_its_own_records_and_its_writers_commits():
    """Its relations' records (a full-page image included) and the commits of the transactions
    that wrote them; not another database's, nor the server's own (RUNNING_XACTS)."""
    found = wal_attribution.attribute(WAL, 16384)

    assert found.wal_bytes == 186 + 64 + 34 + 56
    assert found.write_transactions == 1


def test_a_process_tree_has_used_some_cpu():
    sum(range(200_000))
    assert tree_cpu_seconds([os.getpid()]) > 0
    assert tree_cpu_seconds([2**22 + 1]) == 0  # no such process


def test_percentiles_are_nearest_rank():
    values = list(range(1, 101))
    assert [noop_figures.percentile(values, share) for share in (0.5, 0.95, 0.99)] == [50, 95, 99]
    assert noop_figures.percentile([7.0], 0.99) == 7.0


def test_the_table_shows_both_sides_and_their_ratio():
    side = {name: 1.5 for name in noop_figures.SUMMED_UP} | {
        "workflows": 20,
        "rounds": 1,
        "wal_scope": "database",
    }
    result = {
        "order": ["noop", "peer"],
        "load_average": {"before": [1.0, 1.0, 1.0], "after": [2.0, 1.0, 1.0]},
        "noop": side | {"broker": "orm", "workers": 2},
        "peer": side
        | {"engine": "dbos 3.4.0", "processes": 2, "worker_concurrency": 4, "polling_interval_sec": 0.05}
        | {"database_name": "x_dbos", "database_cpu_ms_per_workflow": None},
        "ratio_noop_to_peer": 1.0,
    }

    table = "\n".join(noop_report.noop_table(result))

    assert "noop (ours)" in table and "dbos 3.4.0" in table
    assert "ratio ours / peer (workflows/s)" in table and "n/a" in table
    assert "each side's database alone" in table


@pytest.mark.django_db
def test_backends_are_counted_on_the_rounds_database_only():
    """Another bench on the same server names its sessions alike: its backends, on its own
    database, are not this round's."""
    app = f"bench-parts-{uuid.uuid4().hex[:8]}"
    database = connection.settings_dict["NAME"]
    ours, theirs = (_session(name, app) for name in (database, MAINTENANCE_DATABASE))
    with server_connection() as server, ours, theirs:
        backends = BackendCpu(server.cursor(), app, database)
        backends.sample(baseline=True)
        assert set(backends.last) == {ours.info.backend_pid}


def _session(database: str, app: str) -> psycopg.Connection:
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or None,
        port=settings["PORT"] or None,
        user=settings["USER"] or None,
        password=settings["PASSWORD"] or None,
        dbname=database,
        application_name=app,
    )
