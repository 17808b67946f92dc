"""Signs of life from inside a django-q2 cluster, for the supervisor that started it.

Three moments tell whether a cluster takes its work: its pusher took a task from the broker
that still waits for a worker (`pulled`: the first taken since a worker last started one), a
worker started one (`started`), the monitor recorded one's end (`finished`).
Each is the modification time of a file in the directory the supervisor names in
PROCESSES_HEARTBEAT_DIR: one system call per task, nothing in the database, and shared by the
cluster's processes without any lock of theirs (a wedged cluster is one whose queue lock is
stuck). Outside a supervisor the variable is unset and nothing is written.

The pusher's moment comes from the broker classes below (settings' Q_CLUSTER['broker_class']),
the workers' and the monitor's from django-q2's `pre_execute` and `post_execute` signals.
"""

import contextlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

from processes.orm_broker import CheaperOrm
from processes.redis_dequeue import RedisTakingSeveral

ENVIRONMENT = "PROCESSES_HEARTBEAT_DIR"
PULLED, STARTED, FINISHED = "pulled", "started", "finished"


def _path(moment: str) -> str | None:
    """The moment's file, as a string (a `Path` built per task was a fifth of the pusher's and
    the monitor's profiles), or None outside a supervisor."""
    directory = os.environ.get(ENVIRONMENT)
    return os.path.join(directory, moment) if directory else None


def beat(moment: str) -> None:
    path = _path(moment)
    if path is None:
        return
    with contextlib.suppress(OSError):  # the supervisor is restarting us or gone: nobody listens
        os.utime(path)


def note_taken() -> None:
    """The pusher took tasks: note when, unless tasks it took earlier still wait for a worker
    (none started since), so that `pulled` says how long the oldest waiting task has waited."""
    pulled, started = _path(PULLED), _path(STARTED)
    if pulled is None:
        return
    with contextlib.suppress(OSError):
        if os.stat(pulled).st_mtime <= os.stat(started).st_mtime:
            os.utime(pulled)


def on_task_started(**kwargs) -> None:
    beat(STARTED)


def on_task_finished(**kwargs) -> None:
    beat(FINISHED)


class _NotesEachTake:
    """Notes the moment the pusher takes tasks from the broker (mixed into a django-q2 broker)."""

    def dequeue(self):
        tasks = super().dequeue()
        if tasks:
            note_taken()
        return tasks


class RedisBroker(_NotesEachTake, RedisTakingSeveral):
    """django-q2's Redis broker, noting each take of the pusher (up to a few tasks at once,
    processes.redis_dequeue)."""


class OrmBroker(_NotesEachTake, CheaperOrm):
    """The database broker (django-q2's, cheaper on PostgreSQL: processes.orm_broker), noting
    each batch the pusher takes."""


@dataclass(frozen=True)
class Heartbeat:
    """The three moments, as Unix times."""

    pulled: float
    started: float
    finished: float

    @property
    def work_inside(self) -> bool:
        """Has the cluster taken a task from the broker since a worker last started one? Then
        `pulled` is when the first of those was taken."""
        return self.pulled > self.started


def reset(directory: Path, at: float | None = None) -> None:
    """Set all three moments to `at` (a cluster starting now has nothing inside)."""
    at = time.time() if at is None else at
    directory.mkdir(parents=True, exist_ok=True)
    for moment in (PULLED, STARTED, FINISHED):
        path = directory / moment
        path.touch()
        os.utime(path, (at, at))


def read(directory: Path) -> Heartbeat:
    return Heartbeat(*((directory / moment).stat().st_mtime for moment in (PULLED, STARTED, FINISHED)))
