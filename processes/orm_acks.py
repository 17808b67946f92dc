"""The database broker's acknowledgements, handed from a cluster's monitor to its pusher.

django-q2's monitor acknowledges each finished task by itself: with the database broker a
DELETE and a commit per task. Inside a cluster the monitor and the pusher are children of one
process (django-q2's sentinel forks both, after making its broker, which opens a pipe here).
The monitor writes the task's id into that pipe; the pusher reads what is waiting there and
deletes it in the statement that takes its next tasks (processes.orm_broker), which it sends
anyway: every `poll` seconds when the queue is empty, and under load as soon as it has handed
its last take to the workers' queue (while that queue is full, when a worker frees a place).
So a finished task costs no statement and no commit of its own.

Delivery stays at least once. An id that never reaches a DELETE (the cluster killed before its
pusher's next take) leaves its row taken, and the task comes back `retry` seconds after it was
taken, as any task not acknowledged; the engine takes a wake-up twice in its stride. When the
monitor ends (a cluster stopping, whose pusher django-q2 stops first) it deletes what is left
in the pipe itself. Where nobody would read the pipe, the acknowledgement is a DELETE at once,
as before: in the process that opened it (a test, a shell, a sync run) and in a process that
has none; and when the pipe is full (thousands waiting: the pusher is stuck).

Ids are written as 8 bytes each, below PIPE_BUF, so a write is whole or refused and a read of
a multiple of 8 bytes never splits one; no lock is shared between the processes (django-q2's
own queue locks are what wedges a cluster whose process dies holding one).
"""

import logging
import os
import struct
from collections.abc import Callable
from multiprocessing import util

logger = logging.getLogger(__name__)

_ID = struct.Struct("=q")
READ_AT_MOST = 1024  # ids one take deletes at most; the rest wait for the next take


class _Pipe:
    """Both ends of the pipe, non-blocking, and the process that opened it."""

    def __init__(self):
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.read_end, False)
        os.set_blocking(self.write_end, False)
        self.opener = os.getpid()


_pipe: _Pipe | None = None
_flushes_at_exit: int | None = None  # the pid whose exit deletes what is left


def open_pipe() -> None:
    """Open the pipe, unless this process has one (its own, or inherited from its parent)."""
    global _pipe
    if _pipe is None:
        _pipe = _Pipe()


def hand_over(task_id: int, delete: Callable[[list[int]], None]) -> bool:
    """Leave `task_id` for the pusher's next take; False when the caller must delete it now.

    `delete` is how this process deletes ids itself: it runs at this process's exit for the
    ids nobody took by then."""
    if _pipe is None or _pipe.opener == os.getpid():
        return False
    _flush_at_exit(delete)
    try:
        os.write(_pipe.write_end, _ID.pack(task_id))
    except BlockingIOError:  # full: the pusher has not taken for thousands of tasks
        return False
    return True


def take_handed() -> list[int]:
    """The ids waiting in the pipe (up to READ_AT_MOST), taken out of it."""
    if _pipe is None:
        return []
    try:
        data = os.read(_pipe.read_end, READ_AT_MOST * _ID.size)
    except BlockingIOError:
        return []
    return [task_id for (task_id,) in _ID.iter_unpack(data)]


def _flush_at_exit(delete: Callable[[list[int]], None]) -> None:
    """Have this process delete the ids still waiting when it ends normally. multiprocessing
    runs these finalizers as a child process returns (its children leave by os._exit, which
    skips atexit), and forgets a parent's at fork, so each process registers its own."""
    global _flushes_at_exit
    if _flushes_at_exit != os.getpid():
        _flushes_at_exit = os.getpid()
        util.Finalize(None, _flush, args=(delete,), exitpriority=10)


def _flush(delete: Callable[[list[int]], None]) -> None:
    try:
        while task_ids := take_handed():
            delete(task_ids)
    except Exception:  # the database is gone: the tasks come back after `retry`
        logger.exception("acknowledgements left undeleted; their tasks come back after retry")
