"""The supervisor's sweeper: a child process forked from `run_workers`, not a new interpreter.

Forked once Django is set up, the child starts sweeping at once and shares the supervisor's
memory until it writes to it: no second start-up of Python and Django beside the cluster's (on
a loaded machine that start-up took tens of seconds, and delayed the cluster's own). The
supervisor is single-threaded and closes its database connections before the fork, so the
child starts with no shared socket and no lock held; it names itself `sweeper <state>`
(setproctitle), dies with its parent (PR_SET_PDEATHSIG), answers SIGTERM and SIGINT by ending
after its sweep in progress, and never returns into the supervisor's code (`os._exit`).

`SweeperChild` gives the supervisor what it needs of a child: its pid, poll, wait, signal, and
how long it has been silent. Its sign of life is the mtime of a file the supervisor names (in
its heartbeat directory, as processes.worker_heartbeat's): touched before each turn and each
pause, one system call, nothing in the database, readable even while the child is stuck.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from django.db import connections

from processes import sweeper
from processes.sweeper_process import SweeperProcess, set_title


class SweeperChild:
    """A forked sweeper process, watched like a `subprocess.Popen`."""

    def __init__(self, pid: int, owner: str, heartbeat: Path):
        self.pid, self.owner = pid, owner  # `owner`: the name it holds the lease under
        self.heartbeat = heartbeat
        self.returncode: int | None = None

    @classmethod
    def fork(cls, *, heartbeat: Path, before_run: Callable[[], None] = lambda: None) -> "SweeperChild":
        """Fork a child that runs the sweeper until told to stop, touching `heartbeat` as its sign
        of life; `before_run` runs in the child first (the supervisor passes its die-with-parent)."""
        _beat(heartbeat)  # a child starting now has been silent for no time
        connections.close_all()  # nothing shared: each side opens its own again
        sys.stdout.flush()
        sys.stderr.flush()
        suffix = uuid.uuid4().hex[:8]
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                before_run()
                code = _run(_owner(os.getpid(), suffix), heartbeat)
            finally:
                with contextlib.suppress(Exception):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        return cls(pid, _owner(pid, suffix), heartbeat)

    def silent_for(self, now: float) -> float:
        """Seconds since the child's last sign of life at Unix time `now` (0 if none can be read:
        the directory is gone, and the supervisor with it)."""
        try:
            return max(0.0, now - self.heartbeat.stat().st_mtime)
        except OSError:
            return 0.0

    def free_lease(self) -> None:
        """Free the lease the dead child held, so that the next one takes it at once instead of
        after it runs out; a database that fails leaves it to run out."""
        with contextlib.suppress(Exception):
            sweeper.release_lease(self.owner)

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # collected elsewhere: gone, its status unknown
                self.returncode = -1
                return self.returncode
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"sweeper {self.pid}", timeout)
            time.sleep(0.05)
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)


def _owner(pid: int, suffix: str) -> str:
    """The child's lease owner name (host:pid:suffix, as processes.wakeup.worker_name), known to
    the supervisor too."""
    return f"{sweeper.PROCESS_OWNER}{socket.gethostname()}:{pid}:{suffix}"


def _beat(heartbeat: Path) -> None:
    with contextlib.suppress(OSError):  # the supervisor is gone with its directory: nobody listens
        heartbeat.touch()


def _run(owner: str, heartbeat: Path) -> int:
    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):  # the supervisor's own handlers, replaced
        signal.signal(signum, lambda *_: stopping.set())
    set_title("starting")
    SweeperProcess(stopping=stopping, title=set_title, beat=lambda: _beat(heartbeat), me=owner).run()
    return 0
