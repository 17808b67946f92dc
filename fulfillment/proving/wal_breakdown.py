"""Where one database's WAL goes: bytes by relation and by record kind, from pg_waldump.

`wal_attribution` says how much WAL a database wrote; this says what for, so a change that
means to cut it can be aimed and checked: for each relation (a table, an index) and each kind
of record (a heap INSERT, UPDATE or HOT_UPDATE, a row LOCK, a btree INSERT_LEAF, ...) how many
records and bytes, the full-page images apart (they depend on when the last checkpoint was,
not on the code), and the commit records of the transactions that wrote. `manage.py
profile_noop --wal` prints it for the no-op workflow run in-process (docs/performance.md).
"""

import re
import subprocess
from collections import defaultdict
from dataclasses import dataclass, field

from fulfillment.proving.wal_attribution import RECORD, _waldump_program

LENGTHS = re.compile(r"len \(rec/tot\):\s*(\d+)/\s*(\d+)")
RELATION = re.compile(r"rel \d+/(\d+)/(\d+)")
OTHER = "(other)"


@dataclass
class Kind:
    """The records of one kind on one relation: how many, their bytes, and of those bytes the
    full-page images'."""

    records: int = 0
    bytes: int = 0
    fpi_bytes: int = 0


@dataclass
class Breakdown:
    """A database's WAL between two positions, by (relation, record kind)."""

    kinds: dict = field(default_factory=lambda: defaultdict(Kind))
    checkpoints: int = 0  # checkpoint records in the window (their full-page images follow)

    @property
    def total(self) -> int:
        return sum(kind.bytes for kind in self.kinds.values())

    @property
    def fpi_bytes(self) -> int:
        return sum(kind.fpi_bytes for kind in self.kinds.values())

    def by_relation(self) -> dict:
        totals = defaultdict(int)
        for (relation, _), kind in self.kinds.items():
            totals[relation] += kind.bytes
        return dict(totals)


def breakdown(lines, database_oid: int, names: dict) -> Breakdown:
    """Sum pg_waldump's `lines` that belong to `database_oid` by relation (its name from
    `names`, filenode → name) and record kind; the commit records of the transactions that
    wrote there count as ("(commit)", "COMMIT")."""
    wanted, writers, found = str(database_oid), set(), Breakdown()
    for line in lines:
        match = RECORD.match(line)
        if not match:
            continue
        rmgr, xid, desc = match.group(1), match.group(3), match.group(4)
        rec, tot = (int(n) for n in LENGTHS.search(line).groups())
        if rmgr == "XLOG" and desc.startswith("CHECKPOINT"):
            found.checkpoints += 1
        relation = RELATION.search(desc)
        if relation and relation.group(1) == wanted:
            _count(found, names.get(int(relation.group(2)), relation.group(2)), _kind(rmgr, desc), rec, tot)
            if xid != "0":
                writers.add(xid)
        elif xid in writers:
            _count(found, "(commit)" if rmgr == "Transaction" else OTHER, _kind(rmgr, desc), rec, tot)
    return found


def _kind(rmgr: str, desc: str) -> str:
    word = desc.split(" ", 1)[0].rstrip(":,")
    return f"{rmgr} {word}"


def _count(found: Breakdown, relation: str, kind: str, rec: int, tot: int) -> None:
    counted = found.kinds[(relation, kind)]
    counted.records += 1
    counted.bytes += tot
    counted.fpi_bytes += tot - rec


def waldump_breakdown(cursor, database_oid: int, names: dict, start: str, end: str) -> Breakdown | None:
    """The database's WAL between `start` and `end` broken down, None when pg_waldump cannot
    read it here."""
    program = _waldump_program(cursor)
    cursor.execute("SELECT current_setting('data_directory')")
    directory = cursor.fetchone()[0] + "/pg_wal"
    if program is None:
        return None
    command = [program, "--path", directory, "--start", start, "--end", end]
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as dump:
            return breakdown(dump.stdout, database_oid, names)
    except OSError:
        return None


def relation_names(cursor) -> dict:
    """The connected database's relations by filenode: filenode → name."""
    cursor.execute(
        "SELECT pg_relation_filenode(oid), relname FROM pg_class WHERE pg_relation_filenode(oid) IS NOT NULL"
    )
    return dict(cursor.fetchall())


def table(found: Breakdown, workflows: int) -> list[dict]:
    """Rows of bytes per workflow by relation and kind, largest first."""
    rows = [
        {
            "relation": relation,
            "kind": kind,
            "records": round(counted.records / workflows, 2),
            "bytes": round(counted.bytes / workflows),
            "fpi_bytes": round(counted.fpi_bytes / workflows),
        }
        for (relation, kind), counted in found.kinds.items()
    ]
    return sorted(rows, key=lambda row: -row["bytes"])
