"""The WAL of one database broken down by relation and record kind, as profile_noop --wal
prints it (fulfillment.proving.wal_breakdown)."""

import json
from io import StringIO

import pytest
from django.core.management import call_command

from fulfillment.proving import wal_breakdown
from processes.workflow import registry
from tests.conftest import ENGINE_DB


def record(rmgr: str, rec: int, tot: int, xid: int, desc: str) -> str:
    """A line as pg_waldump (PostgreSQL 15) prints a record."""
    return f"rmgr: {rmgr:<11} len (rec/tot): {rec:>6}/{tot:>6}, tx: {xid:>10}, lsn: 0/01000028, desc: {desc}"


# Transaction 700 writes to database 16384 (table 16385, its index 16390), 701 to another one.
WAL = [
    record(
        "Heap",
        54,
        54,
        700,
        "LOCK off 3: xid 700: flags 0x00 LOCK_ONLY EXCL_LOCK, blkref #0: rel 1663/16384/16385 blk 0",
    ),
    record(
        "Heap",
        186,
        8378,
        700,
        "UPDATE off 3 xmax 700 ; new off 4 xmax 700, blkref #0: rel 1663/16384/16385 blk 0 FPW",
    ),
    record("Heap", 54, 54, 701, "INSERT off 5 flags 0x00, blkref #0: rel 1663/99999/16385 blk 0"),
    record("Btree", 64, 64, 700, "INSERT_LEAF off 22, blkref #0: rel 1663/16384/16390 blk 5"),
    record(
        "Heap",
        102,
        102,
        700,
        "HOT_UPDATE off 4 xmax 700 flags 0x20 ; new off 6 xmax 0, blkref #0: rel 1663/16384/16385 blk 0",
    ),
    record("Transaction", 34, 34, 701, "COMMIT 2026-12-06 16:00:00.000000 UTC"),
    record("Transaction", 34, 34, 700, "COMMIT 2026-12-06 16:00:00.000001 UTC"),
    record("XLOG", 114, 114, 0, "CHECKPOINT_ONLINE redo 0/1000028; tli 1"),
]


def test_each_relation_and_kind_has_its_records_bytes_and_full_page_images():
    """Records are summed by relation (named) and kind; a full-page image is counted apart; the
    writer's commit is charged, another database's records and the checkpoint are not."""
    found = wal_breakdown.breakdown(WAL, 16384, {16385: "orders", 16390: "orders_pkey"})

    rows = {(row["relation"], row["kind"]): row for row in wal_breakdown.table(found, workflows=1)}
    assert set(rows) == {
        ("orders", "Heap LOCK"),
        ("orders", "Heap UPDATE"),
        ("orders", "Heap HOT_UPDATE"),
        ("orders_pkey", "Btree INSERT_LEAF"),
        ("(commit)", "Transaction COMMIT"),
    }
    assert (rows[("orders", "Heap UPDATE")]["bytes"], rows[("orders", "Heap UPDATE")]["fpi_bytes"]) == (
        8378,
        8192,
    )
    assert found.total == 54 + 8378 + 64 + 102 + 34
    assert found.by_relation() == {"orders": 54 + 8378 + 102, "orders_pkey": 64, "(commit)": 34}
    assert found.fpi_bytes == 8192
    assert found.checkpoints == 1


@ENGINE_DB
def test_profile_noop_breaks_its_wal_down(monkeypatch):
    """--wal adds the run's WAL per workflow: its total is the sum by relation, and a no-op
    workflow writes its process row, attempts and journal."""
    monkeypatch.setattr(registry, "_workflows", dict(registry._workflows))
    out = StringIO()
    call_command("profile_noop", "--workflows", "2", "--wal", stdout=out)
    wal = json.loads(out.getvalue())["wal"]
    if wal is None:
        pytest.skip("pg_waldump cannot read this server's WAL here")

    assert abs(wal["bytes_per_workflow"] - sum(wal["by_relation"].values())) <= len(wal["by_relation"])
    assert {"proving_noopprocess", "processes_stepattempt", "processes_processevent"} <= set(
        wal["by_relation"]
    )
    assert isinstance(wal["checkpoint_in_window"], bool)
    assert 0 <= wal["fpi_bytes_per_workflow"] <= wal["bytes_per_workflow"]
