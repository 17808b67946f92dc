"""The WAL one database wrote between two positions, on a server other databases share.

`pg_current_wal_lsn()` moves with every database of the server: on a machine where other test
runs create databases and truncate tables, its difference says more about them than about a
bench. pg_waldump lists each WAL record with its transaction and the relations it touches;
counting the records that touch one database's relations, and the commit records of the
transactions that wrote them, gives that database's own WAL bytes and write transactions.

It needs pg_waldump of the server's major version and the server's WAL directory readable here
(the same machine, as root or postgres), and the WAL kept until it is read: a temporary
replication slot holds it (`WalPin`). Whatever is missing, `attribute` returns None and the
bench reports the server-wide figures instead, saying so.
"""

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

RECORD = re.compile(r"^rmgr: (\S+)\s+len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+), .*?desc: (.*)$")
# A relation (tablespace/database/file), a file under base/, or a lock naming its database.
DATABASE_MENTION = re.compile(r"rel \d+/(\d+)/\d+|base/(\d+)/|\bdb (\d+)\b")


@dataclass
class DatabaseWal:
    """What one database wrote: WAL bytes (full-page images included) and committed writers."""

    wal_bytes: int = 0
    write_transactions: int = 0


def attribute(lines, database_oid: int) -> DatabaseWal:
    """Sum the records of pg_waldump's `lines` that belong to the database `database_oid`: those
    touching its relations, and the others (commits) of the transactions that did."""
    wanted, writers, found = str(database_oid), set(), DatabaseWal()
    for line in lines:
        match = RECORD.match(line)
        if not match:
            continue
        rmgr, size, xid, desc = match.group(1), int(match.group(2)), match.group(3), match.group(4)
        if _mentions(desc, wanted):
            found.wal_bytes += size
            if xid != "0":
                writers.add(xid)
        elif xid in writers:
            found.wal_bytes += size
            if rmgr == "Transaction" and desc.startswith("COMMIT"):
                found.write_transactions += 1
    return found


def _mentions(desc: str, database_oid: str) -> bool:
    return any(database_oid in groups for groups in DATABASE_MENTION.findall(desc))


def waldump_database_wal(cursor, database_oid: int, start: str, end: str) -> DatabaseWal | None:
    """The database's WAL between the LSNs `start` and `end`, or None when pg_waldump cannot
    read it here (not installed, another machine, the segments already recycled)."""
    program = _waldump_program(cursor)
    cursor.execute("SELECT current_setting('data_directory')")
    wal_directory = Path(cursor.fetchone()[0]) / "pg_wal"
    if program is None or not wal_directory.is_dir():
        return None
    command = [program, "--path", str(wal_directory), "--start", start, "--end", end]
    try:
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace"
        ) as dump:
            found = attribute(dump.stdout, database_oid)
            failure = dump.stderr.read()
    except OSError:
        return None
    return None if dump.returncode and "could not find" in failure else found


def _waldump_program(cursor) -> str | None:
    cursor.execute("SELECT current_setting('server_version_num')::int / 10000")
    major = cursor.fetchone()[0]
    packaged = Path(f"/usr/lib/postgresql/{major}/bin/pg_waldump")
    if packaged.exists():
        return str(packaged)
    return shutil.which("pg_waldump")


class WalPin:
    """A temporary physical replication slot that keeps the WAL from now on until it is read.

    Temporary: the server drops it when the session that made it ends, so a bench that dies
    leaves nothing behind."""

    def __init__(self, cursor, name: str):
        self.cursor, self.name, self.held = cursor, name, False

    def hold(self) -> None:
        try:
            self.cursor.execute("SELECT pg_create_physical_replication_slot(%s, true, true)", [self.name])
            self.held = True
        except Exception:  # no slots to spare, or not allowed: the WAL may then be recycled
            self.held = False

    def release(self) -> None:
        if self.held:
            self.cursor.execute("SELECT pg_drop_replication_slot(%s)", [self.name])
            self.held = False
