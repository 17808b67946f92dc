"""The sweeper as a process of its own, beside the workers.

`run_workers` forks one beside its cluster (processes.sweeper_child) and forks another when it
dies, so that every
django-q2 worker runs steps instead of one lending itself to the sweeper loop task. Each turn,
every SWEEP_INTERVAL, it takes or renews the sweeper's lease (processes.sweeper) and sweeps; while
a sweeper process on another machine holds the lease it waits, trying again each turn, and takes
over once that lease has run out (a few seconds after its holder died). It takes the lease from a
fallback loop task at once, which then ends and frees its worker.

A turn that fails (the database or the broker away) is logged and the process backs off, doubling
its pause up to BACKOFF_MAX, then carries on: nothing but a signal ends it. It gives a sign of
life before each turn and before each pause (`beat`; processes.sweeper_child makes it a file's
mtime), so that its supervisor can tell a sweeper stuck inside a turn, or stopped, from one
that sweeps or backs off: a live one is never silent longer than its longest turn or pause. SIGTERM or SIGINT
ends it after the turn in progress, freeing the lease for the next holder. `manage.py
run_sweeper` runs the same loop by hand, beside a bare `qcluster`.
"""

import contextlib
import logging
import threading

from django.db import close_old_connections, connections

from processes import conf, sweeper
from processes.wakeup import worker_name

logger = logging.getLogger("processes.sweeper_process")

# The title `ps` and processes.cluster_processes read: "sweeper <state>".
TITLE = "sweeper"

# The longest pause between two turns after failures (seconds): a database back from an outage
# is swept again within this, and the lease (a few seconds) has long run out by then.
BACKOFF_MAX = 5.0


class SweeperProcess:
    """Sweep while holding the lease, wait while another process holds it, until `stopping` is set.

    `sweep`, `title` and `beat` are seams for tests, for the command (setproctitle) and for the
    supervisor's child (its sign of life), not options.
    """

    def __init__(
        self, *, stopping: threading.Event, sweep=None, title=None, beat=None, me: str | None = None
    ):
        self.stopping = stopping
        self.title = title or (lambda state: None)
        self.beat = beat or (lambda: None)
        self.sweep = sweep or (lambda: sweeper.sweep_once(beat=self.beat))
        self.state = ""
        self.me = me or sweeper.PROCESS_OWNER + worker_name()
        self.failures = 0
        self.sweeps = 0

    def run(self) -> None:
        logger.info("sweeper process %s started", self.me)
        while not self.stopping.is_set():
            self.beat()
            pause = self.turn()
            self.beat()  # before the pause too: its silence is the longer of the two, not their sum
            self.stopping.wait(pause)
        self._release()
        logger.info("sweeper process %s stopped after %d sweeps", self.me, self.sweeps)

    def turn(self) -> float:
        """Sweep once if we hold (or can take) the lease; returns the pause before the next turn."""
        interval = conf.get("SWEEP_INTERVAL")
        try:
            close_old_connections()  # a connection the database dropped is replaced, not reused
            if sweeper.hold_lease_as_process(self.me):
                self._now("sweeping")
                self.sweep()
                self.sweeps += 1
            else:
                self._now("waiting for the lease")
        except Exception as error:
            return self._failed(error, interval)
        if self.failures:
            logger.warning("sweeper process %s carries on after %d failed turns", self.me, self.failures)
            self.failures = 0
        return interval

    def _failed(self, error: Exception, interval: float) -> float:
        """Log (with a traceback the first time only) and back off; the connection is dropped."""
        self.failures += 1
        pause = min(BACKOFF_MAX, interval * 2**self.failures)
        self._now("backing off")
        logger.warning(
            "sweeper process %s: turn failed (%s: %s); again in %.1f s",
            self.me,
            type(error).__name__,
            str(error).strip().splitlines()[0] if str(error).strip() else "",
            pause,
            exc_info=self.failures == 1,
        )
        for connection in connections.all(initialized_only=True):
            with contextlib.suppress(Exception):
                connection.close()
        return pause

    def _now(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.title(state)

    def _release(self) -> None:
        """Free the lease for the next holder; skipped while the database fails (it runs out)."""
        if self.failures:
            return
        try:
            sweeper.release_lease(self.me)
        except Exception as error:
            logger.warning("sweeper process %s could not free its lease (%s)", self.me, error)


def set_title(state: str) -> None:
    """Name this process `sweeper <state>` for `ps` (setproctitle, as django-q2 names its own)."""
    try:
        from setproctitle import setproctitle
    except ImportError:
        return
    setproctitle(f"{TITLE} {state}")
