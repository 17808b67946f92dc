"""Run a django-q2 cluster, replace it when it wedges, stop it within a bound.

django-q2 has open bugs that leave a cluster alive but taking no work: a worker or monitor
killed while it held a queue lock wedges every other process of the cluster (#23), and such a
cluster ignores SIGTERM (#346). Nothing inside the cluster notices; the supervisor watches it
from outside:

- the cluster's processes note when a task was taken, started and finished
  (processes.worker_heartbeat), and name themselves idle or busy (setproctitle);
- `diagnose` reads those and says why the cluster is wedged, or None;
- a wedged cluster, or one that exited, is stopped (SIGTERM, then SIGKILL for everything
  left after a grace) and started again; the engine recovers the work it held (leases, the
  sweeper's redelivery);
- every few seconds the supervisor reports to a `WorkerCluster` row, which /readyz, /metrics
  and the pages read.

The supervisor also runs the sweeper, as a child process it forks beside the cluster
(processes.sweeper_child, running processes.sweeper_process), so that all the cluster's workers
run steps. A process rather than a thread of the supervisor: a sweep that hangs (a mail server,
a database that does not answer) or a crash cannot stop the supervision, the supervisor stays
single-threaded where it forks (its `preexec_fn` and `os.fork` are unsafe beside threads), and
a dead sweeper is seen by its exit, killed on purpose by chaos tests, and shown in `ps` as
`sweeper <state>`. Forked rather than started anew: no second Python and Django start-up
competing with the cluster's. A sweeper that exits is started again at the next turn (after a
growing pause if it keeps exiting at once); a wedged cluster is replaced without touching it.
A sweeper alive but stuck (a statement behind a lock or a dead TCP peer, a deadlock in a
library, SIGSTOP) stops touching its heartbeat file: `diagnose_sweeper` calls it wedged after
SWEEPER_WEDGE_AFTER, and it is killed and started again at once. It holds the sweeper's lease,
so of several supervisors' sweepers one sweeps and the others wait.
"""

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections

from processes import conf, worker_heartbeat
from processes.cluster_processes import ClusterProcess, children, cluster_processes, descendants
from processes.models.workers import WorkerCluster, WorkerClusterState
from processes.sweeper import BESIDE_A_SWEEPER_PROCESS
from processes.sweeper_child import SweeperChild
from processes.worker_heartbeat import Heartbeat

logger = logging.getLogger("processes.worker_supervisor")

# A wedged cluster will not stop by itself (django-q2 #346): do not wait long for it.
WEDGED_STOP_GRACE = 5.0
# A cluster that exits this soon after its start is restarted after a growing pause.
QUICK_EXIT = 10.0
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
# The sweeper process's sign of life, in the heartbeat directory beside the cluster's moments.
SWEEPER_HEARTBEAT = "sweeper"


@dataclass(frozen=True)
class Limits:
    wedge_after: float  # a task waited inside this long while a worker sat idle
    stall_after: float  # nothing started (or finished) this long while it should have
    sweeper_wedge_after: float  # the sweeper process gave no sign of life this long

    @classmethod
    def configured(cls) -> "Limits":
        timeout = float(getattr(settings, "Q_CLUSTER", {}).get("timeout") or 60)
        return cls(
            wedge_after=conf.get("WORKER_WEDGE_AFTER"),
            stall_after=timeout + 30.0,
            sweeper_wedge_after=conf.get("SWEEPER_WEDGE_AFTER"),
        )


def diagnose(beat: Heartbeat, processes: list[ClusterProcess], now: float, limits: Limits) -> str | None:
    """Why the cluster is wedged, or None while it takes its work.

    A healthy cluster hands a task it took to an idle worker at once, and a busy worker ends
    its task within the queue's timeout (django-q2 kills it then), so its end is recorded.
    """
    idle = sum(1 for p in processes if p.role == "worker" and not p.busy)
    if beat.work_inside:
        waited = now - beat.pulled
        if idle and waited > limits.wedge_after:
            return f"a task it took waited {waited:.0f} s while {idle} of its workers sat idle"
        silent = now - beat.started
        if silent > limits.stall_after:
            return f"no worker started a task for {silent:.0f} s while work it took waited"
    if beat.started > beat.finished and now - beat.started > limits.stall_after:
        silent = now - beat.started
        return f"no task's end was recorded for {silent:.0f} s after one started (its monitor is stuck)"
    return None


def diagnose_sweeper(silent: float, limits: Limits) -> str | None:
    """Why the sweeper process is wedged, or None while it gives signs of life.

    A live sweeper touches its heartbeat before each turn and before each pause
    (processes.sweeper_process), so it is silent at most its longest turn or pause.
    """
    if silent > limits.sweeper_wedge_after:
        return f"no sign of life for {silent:.1f} s (limit {limits.sweeper_wedge_after:g} s)"
    return None


class Supervisor:
    """One cluster on this machine, kept taking work until the supervisor is told to stop."""

    def __init__(self, *, argv: list[str], limits: Limits | None = None, out=None):
        self.argv = argv
        self.limits = limits or Limits.configured()
        self.grace = conf.get("WORKER_STOP_GRACE")
        self.report_every = conf.get("WORKER_REPORT_EVERY")
        self.out = out or sys.stdout
        self.heartbeat_dir = Path(tempfile.mkdtemp(prefix="processes-heartbeat-"))
        self.name = cluster_name(os.getpid())
        self.started_at = _utc(time.time())
        self.child: subprocess.Popen | None = None
        self.child_started = 0.0
        self.sweeper: SweeperChild | None = None
        self.sweeper_started, self.sweeper_quick_exits, self.sweeper_wedges = 0.0, 0, 0
        self.sweeper_due = 0.0  # when a sweeper that exited may be started again (monotonic)
        self.restarts, self.wedges, self.quick_exits = 0, 0, 0
        self.last_restart: tuple[float, str] | None = None
        self.state = WorkerClusterState.STARTING
        self.stopping = threading.Event()  # set by SIGTERM or SIGINT
        self.last_report = 0.0

    def run(self) -> None:
        _become_subreaper()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_stop_signal)
        self._say(f"supervising {' '.join(self.argv)} and a sweeper process as {self.name}")
        self._spawn_sweeper()
        self._spawn()
        try:
            while not self.stopping.wait(1.0):
                _reap(keep={self.child.pid, self.sweeper.pid})
                self._check()
                self._check_sweeper()
                if time.monotonic() - self.last_report >= self.report_every:
                    self._report()
        finally:
            self.state = WorkerClusterState.STOPPED
            self._signal_sweeper(signal.SIGTERM)  # it ends its sweep while the cluster stops
            started_stopping = time.monotonic()
            outcome = self._stop_cluster(self.grace)
            sweeper_outcome = self._stop_sweeper(max(0.0, self.grace - (time.monotonic() - started_stopping)))
            self._say(f"cluster {outcome}, sweeper {sweeper_outcome}; supervisor stopped")
            self._report()
            shutil.rmtree(self.heartbeat_dir, ignore_errors=True)

    def _check(self) -> None:
        code = self.child.poll()
        if code is not None:
            self._restart(f"the cluster exited with status {code}", grace=0.0)
            return
        try:
            beat = worker_heartbeat.read(self.heartbeat_dir)
        except OSError:
            return
        reason = diagnose(beat, cluster_processes(self.child.pid), time.time(), self.limits)
        if reason:
            self.wedges += 1
            self._restart(f"wedged: {reason}", grace=min(self.grace, WEDGED_STOP_GRACE))

    def _check_sweeper(self) -> None:
        """Kill the sweeper process if it is wedged; start it again if it exited (or was killed),
        its lease freed for the next one (after a growing pause if it keeps failing soon after
        its start; a killed one comes back at once)."""
        code = self.sweeper.poll()
        if code is None and (reason := diagnose_sweeper(self.sweeper.silent_for(time.time()), self.limits)):
            code = self._kill_wedged_sweeper(reason)
        if code is None:
            return
        now = time.monotonic()
        if not self.sweeper_due:
            self.sweeper.free_lease()
            quick = code >= 0 and now - self.sweeper_started < QUICK_EXIT
            self.sweeper_quick_exits = self.sweeper_quick_exits + 1 if quick else 0
            pause = min(30.0, 2.0**self.sweeper_quick_exits) if quick else 0.0
            self.sweeper_due = now + pause
            logger.error("the sweeper process exited with status %s; starting another", code)
            self._say(f"the sweeper process exited with status {code}; starting another in {pause:g} s")
        if now >= self.sweeper_due:
            self._spawn_sweeper()

    def _kill_wedged_sweeper(self, reason: str) -> int:
        """SIGKILL the wedged sweeper process; returns its exit status. One that does not die
        within a grace (stuck in the kernel) is left to `_reap` and taken for dead."""
        self.sweeper_wedges += 1
        logger.error("the sweeper process %s is wedged: %s; killing it", self.sweeper.pid, reason)
        self._say(f"the sweeper process {self.sweeper.pid} is wedged ({reason}); killing it")
        self._signal_sweeper(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.sweeper.wait(timeout=WEDGED_STOP_GRACE)
        return -signal.SIGKILL

    def _restart(self, reason: str, *, grace: float) -> None:
        self.state = WorkerClusterState.RESTARTING
        self.restarts += 1
        self.last_restart = (time.time(), reason)
        logger.error("replacing cluster %s: %s", self.name, reason)
        self._report()
        outcome = self._stop_cluster(grace)
        self._say(f"replacing the cluster ({reason}); old cluster {outcome}")
        if time.monotonic() - self.child_started < QUICK_EXIT:
            self.quick_exits += 1
            self.stopping.wait(min(30.0, 2.0**self.quick_exits))
        else:
            self.quick_exits = 0
        if not self.stopping.is_set():
            self._spawn()

    def _spawn(self) -> None:
        worker_heartbeat.reset(self.heartbeat_dir)
        env = {
            **os.environ,
            worker_heartbeat.ENVIRONMENT: str(self.heartbeat_dir),
            BESIDE_A_SWEEPER_PROCESS: "1",  # its workers enqueue no sweeper loop tasks
        }
        self.child = subprocess.Popen(
            [sys.executable, "manage.py", *self.argv],
            cwd=settings.BASE_DIR,
            env=env,
            preexec_fn=_die_with_parent,  # noqa: PLW1509  (a single prctl call, no locks taken)
        )
        self.child_started = time.monotonic()
        self.state = WorkerClusterState.RUNNING
        self._report()

    def _spawn_sweeper(self) -> None:
        self.sweeper = SweeperChild.fork(
            heartbeat=self.heartbeat_dir / SWEEPER_HEARTBEAT, before_run=_die_with_parent
        )
        self.sweeper_started, self.sweeper_due = time.monotonic(), 0.0

    def _signal_sweeper(self, signum: int) -> None:
        if self.sweeper is not None and self.sweeper.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.sweeper.send_signal(signum)

    def _stop_sweeper(self, grace: float) -> str:
        """Wait up to `grace` for the signalled sweeper process, then SIGKILL it."""
        if self.sweeper is None:
            return "not started"
        try:
            self.sweeper.wait(timeout=grace)
            return "stopped"
        except subprocess.TimeoutExpired:
            self._signal_sweeper(signal.SIGKILL)
            self.sweeper.wait()
            return f"killed after {grace:.0f} s"

    def _stop_cluster(self, grace: float) -> str:
        """SIGTERM the cluster, wait up to `grace`, then SIGKILL whatever is left of it."""
        if self.child is None:
            return "not started"
        outcome = "stopped"
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.child.wait(timeout=grace)
            if self.child.poll() is None:
                outcome = f"killed after {grace:g} s"
        else:
            outcome = "had exited"
        # Orphans of the cluster come back to us (we are their subreaper): none may outlive it.
        # The sweeper process is ours, not the cluster's: it goes on.
        sweeper = {self.sweeper.pid} if self.sweeper and self.sweeper.poll() is None else set()
        spared = sweeper | {pid for root in sweeper for pid in descendants(root)}
        for pid in descendants(os.getpid()):
            if pid not in spared:
                _kill(pid)
        self.child.wait()
        _reap(keep=sweeper)
        return outcome

    def _on_stop_signal(self, signum, frame) -> None:
        self.stopping.set()

    def _report(self) -> None:
        self.last_report = time.monotonic()
        processes = cluster_processes(self.child.pid) if self.child and self.child.poll() is None else []
        try:
            beat = worker_heartbeat.read(self.heartbeat_dir)
        except OSError:
            beat = None
        values = {
            "host": socket.gethostname(),
            "queue": settings.Q_CLUSTER.get("name", ""),
            "state": self.state,
            "started_at": self.started_at,
            "cluster_started_at": _utc(time.time() - (time.monotonic() - self.child_started)),
            "last_seen_at": _utc(time.time()),
            "last_pulled_at": _utc(beat.pulled) if beat else None,
            "last_started_at": _utc(beat.started) if beat else None,
            "last_finished_at": _utc(beat.finished) if beat else None,
            "workers_busy": sum(1 for p in processes if p.role == "worker" and p.busy),
            "workers_idle": sum(1 for p in processes if p.role == "worker" and not p.busy),
            "restarts": self.restarts,
            "wedges": self.wedges,
            "sweeper_wedges": self.sweeper_wedges,
            "last_restart_at": _utc(self.last_restart[0]) if self.last_restart else None,
            "last_restart_reason": self.last_restart[1][:500] if self.last_restart else "",
        }
        try:
            WorkerCluster.objects.update_or_create(name=self.name, defaults=values)
        except Exception:
            # The database blinks: keep supervising, report again at the next turn.
            logger.warning("could not report cluster %s", self.name, exc_info=True)
            close_old_connections()

    def _say(self, text: str) -> None:
        self.out.write(f"[run_workers] {text}\n")
        self.out.flush()


def cluster_name(supervisor_pid: int) -> str:
    """The name a supervisor reports its cluster under (`WorkerCluster.name`): host and pid."""
    return f"{socket.gethostname()}:{supervisor_pid}"


def _utc(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


def _prctl(option: int, value: int) -> None:
    # Not Linux: orphans are not collected and the cluster does not die with us.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _become_subreaper() -> None:
    _prctl(PR_SET_CHILD_SUBREAPER, 1)


def _die_with_parent() -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _reap(keep: set[int]) -> None:
    """Collect orphans of the cluster that ended (we are their subreaper), not those in `keep`
    (the cluster and the sweeper), whose exit the supervisor reads itself."""
    for pid in children(os.getpid()):
        if pid not in keep:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
