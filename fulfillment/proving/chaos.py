"""The failures the soak inflicts: clusters started and SIGKILLed, queue messages thrown away,
a simulated service down for a stretch of the run.

A cluster is a real `manage.py run_workers` (django-q2's qcluster under its supervisor, as the
Procfile runs it) in its own session, so that killing its process group takes down the whole
cluster at once, as a crashed machine would; a single worker or monitor is killed by pid,
found through /proc by the name django-q2 gives it (processes.cluster_processes). Messages are
dropped from the broker itself: rows of the ORM broker's table, or entries of the Redis
broker's list.
"""

import contextlib
import hashlib
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import OrmQ

from fulfillment.models import Order
from fulfillment.simulators.calls import calls_refused
from fulfillment.simulators.outages import outage_set
from processes import clock
from processes.cluster_processes import ClusterProcess, cluster_processes
from processes.models.workers import SweeperLease
from processes.sweeper import LOOP_LEASE

# libpq reads PGAPPNAME: every database session of a process the soak starts carries this name.
APP_NAME = "fulfillment-soak"
STOP_GRACE = 5.0
# A cluster is killed whole only after its workers have run this long: killing one that is
# still starting tests nothing but start-up. Counted from its workers' start, not its own: on a
# loaded machine the supervisor, qcluster and its workers take ten seconds and more to start,
# and clusters killed before they ever ran left the ORM soak's one cluster down for half a minute.
MIN_UPTIME = 5.0


def database_url() -> str | None:
    """The URL of the database this process uses, for its children; None for SQLite (the
    children then find the same file through the same default)."""
    db = connection.settings_dict
    if connection.vendor != "postgresql":
        return None
    user = quote(db["USER"] or "", safe="")
    password = f":{quote(str(db['PASSWORD']), safe='')}" if db["PASSWORD"] else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}{port}/{quote(db['NAME'], safe='')}"


def child_environment(*, workers: int, faults: dict[str, str]) -> dict[str, str]:
    """The environment of a cluster of this deployment: same database, broker and secret key
    (django-q2 refuses tasks signed with another), our worker count and fault profile."""
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    if url := database_url():
        env["DATABASE_URL"] = url
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    env.update(
        SECRET_KEY=settings.SECRET_KEY,
        PGAPPNAME=APP_NAME,
        PYTHONUNBUFFERED="1",
        Q_WORKERS=str(workers),
        SIMULATED_PICKER="0",
        **faults,
    )
    return env


class Cluster:
    """One `manage.py run_workers` child in its own session, its output appended to a log file."""

    def __init__(self, number: int, env: dict[str, str], log_path: Path):
        self.number, self.env, self.log_path = number, env, log_path
        self.popen: subprocess.Popen | None = None
        self.starts = 0
        self.running_since: float | None = None  # when its workers were first seen

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                [sys.executable, "manage.py", "run_workers"],
                cwd=settings.BASE_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.starts += 1
        self.running_since = None

    def watch(self) -> None:
        """Note when the cluster's workers first run (the soak looks on every turn)."""
        if self.running_since is None and any(p.role == "worker" for p in self.processes()):
            self.running_since = time.monotonic()

    @property
    def uptime(self) -> float:
        """Seconds since its workers first ran; 0 while it is dead or still starting."""
        self.watch()
        if not self.alive or self.running_since is None:
            return 0.0
        return time.monotonic() - self.running_since

    @property
    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group: the cluster and every worker it forked."""
        self._signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, a few seconds to finish, then SIGKILL whatever is left of the group."""
        if self.alive:
            self._signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=STOP_GRACE)
        self.kill()

    def worker_pids(self) -> list[int]:
        """The workers, the pusher and the monitor."""
        return [p.pid for p in self.processes() if p.role != "other"]

    def processes(self) -> list[ClusterProcess]:
        return cluster_processes(self.popen.pid) if self.alive else []

    def _signal_group(self, signum: int) -> None:
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signum)  # the session leader's pid is the group's id


def busy_workers() -> dict[int, str]:
    """Pids busy right now, and what they do: a step (a worker holding an order's lease) or
    the sweeper (the supervisor's sweeper process, or a bare qcluster's loop task, holding its
    lease)."""
    busy = {}
    sweeper = SweeperLease.objects.filter(name=LOOP_LEASE).exclude(owner="").values_list("owner", flat=True)
    for owner in sweeper:
        busy[_pid_of(owner)] = "sweeper"
    for owner in Order.objects.exclude(lease_owner="").values_list("lease_owner", flat=True):
        busy[_pid_of(owner)] = "step"
    busy.pop(None, None)
    return busy


def _pid_of(owner: str) -> int | None:
    """The pid inside a worker name (host:pid:suffix, see processes.wakeup.worker_name)."""
    parts = owner.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


def _still_busy(pid: int, kind: str) -> bool:
    return busy_workers().get(pid) == kind


class Killer:
    """Every strike SIGKILLs a worker inside a step, the sweeper holding the sweeper's lease (a
    supervisor's sweeper process, which its supervisor starts again), or a whole cluster (which
    the soak then starts again), in roughly the shares given.

    A busy worker is stopped first (SIGSTOP) and killed only if it is still inside its task.
    An idle django-q2 worker waits for its next task holding the read lock of the cluster's
    task queue (a multiprocessing.Queue), and the monitor that of the result queue: killing
    one there leaves the lock taken for good, and the cluster silently stops taking tasks
    (django-q2 #23). By default the soak spares them; with `wedges` (the infra profile) it kills
    them too (every idle worker of a cluster at once, so that the lock holder is among them),
    and the clusters' supervisors must find the wedge and replace the cluster.
    """

    SHARES = {"whole_cluster": 0.2, "sweeper_worker": 0.15, "worker_in_step": 0.65}
    WEDGING_SHARES = {
        "whole_cluster": 0.15,
        "sweeper_worker": 0.1,
        "worker_in_step": 0.45,
        "idle_worker": 0.15,
        "monitor": 0.15,
    }

    def __init__(self, clusters: list[Cluster], rng: random.Random, *, wedges: bool = False):
        self.clusters, self.rng = clusters, rng
        self.shares = self.WEDGING_SHARES if wedges else self.SHARES
        self.counts = dict.fromkeys(self.shares, 0)
        self.pending: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def strike(self) -> str | None:
        """Kill something of the kind drawn for this strike, and say what; None while there is
        nothing of that kind to kill (no worker inside a step, or only clusters younger than
        MIN_UPTIME to kill whole): the soak tries again on its next tick."""
        if self.pending is None:
            kinds = list(self.shares)
            self.pending = self.rng.choices(kinds, weights=[self.shares[k] for k in kinds])[0]
        if self.pending == "whole_cluster":
            done = self._kill_cluster([c for c in self.clusters if c.uptime >= MIN_UPTIME])
        elif self.pending in ("idle_worker", "monitor"):
            done = self._kill_wedging([c for c in self.clusters if c.uptime >= MIN_UPTIME], self.pending)
        else:
            living = [cluster for cluster in self.clusters if cluster.alive]
            done = self._kill_worker(living, "sweeper" if self.pending == "sweeper_worker" else "step")
        if done:
            self.counts[self.pending] += 1
            self.pending = None
        return done

    def skip(self) -> None:
        """Nothing of the drawn kind came along for a whole interval: draw again next time."""
        self.pending = None

    def _kill_cluster(self, living: list[Cluster]) -> str | None:
        if not living:
            return None
        cluster = self.rng.choice(living)
        cluster.kill()
        return f"killed cluster {cluster.number}"

    def _kill_wedging(self, living: list[Cluster], kind: str) -> str | None:
        """Kill the idle workers of one cluster (one of them holds its task queue's read lock,
        so the cluster wedges for sure), or its monitor: what django-q2 #23 is made of."""
        role = "worker" if kind == "idle_worker" else "monitor"
        victims = {
            cluster.number: pids
            for cluster in living
            if (pids := [p.pid for p in cluster.processes() if p.role == role and not p.busy])
        }
        if not victims:
            return None
        number = self.rng.choice(sorted(victims))
        for pid in victims[number]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        what = f"{len(victims[number])} idle workers" if role == "worker" else "the monitor"
        return f"killed {what} of cluster {number}"

    def _kill_worker(self, living: list[Cluster], kind: str) -> str | None:
        ours = {pid for cluster in living for pid in cluster.worker_pids()}
        busy = sorted(pid for pid, doing in busy_workers().items() if pid in ours and doing == kind)
        if not busy:
            return None
        pid = self.rng.choice(busy)
        if not _kill_if(pid, lambda: _still_busy(pid, kind)):
            return None
        return f"killed worker {pid} inside a step" if kind == "step" else f"killed sweeper {pid}"


def _kill_if(pid: int, condition: Callable[[], bool]) -> bool:
    """SIGKILL `pid` if `condition()` holds while the process is stopped, else let it go on."""
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        return False
    try:
        if condition():
            os.kill(pid, signal.SIGKILL)
            return True
        return False
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)  # a killed process is gone; a spared one goes on


class MessageDropper:
    """Throws away a share of the wake-ups waiting in the broker, each message judged once."""

    def __init__(self, share: float, rng: random.Random):
        self.share, self.rng = share, rng
        self.broker = get_broker()
        self.dropped = 0

    def drop(self) -> int:
        if self.share <= 0:
            return 0
        dropped = self._drop()
        self.dropped += dropped
        return dropped

    def _drop(self) -> int:
        raise NotImplementedError


class OrmMessageDropper(MessageDropper):
    """Deletes rows of django-q2's OrmQ table that no cluster has taken yet."""

    def __init__(self, share: float, rng: random.Random):
        super().__init__(share, rng)
        self.last_seen = 0

    def _drop(self) -> int:
        now = timezone.now()
        waiting = OrmQ.objects.filter(key=self.broker.list_key, pk__gt=self.last_seen)
        ids = list(waiting.order_by("pk").values_list("pk", flat=True)[:1000])
        if not ids:
            return 0
        self.last_seen = ids[-1]
        doomed = [pk for pk in ids if self.rng.random() < self.share]
        # Only rows not yet taken (a taken row's lock lies in the future): a real loss.
        deleted, _ = OrmQ.objects.filter(pk__in=doomed, lock__lte=now).delete()
        return deleted


class RedisMessageDropper(MessageDropper):
    """Removes entries of the Redis broker's list (django_q:<cluster name>:q) before a pop."""

    def __init__(self, share: float, rng: random.Random):
        super().__init__(share, rng)
        self.seen: set[str] = set()

    def _drop(self) -> int:
        redis, key = self.broker.connection, self.broker.list_key
        dropped = 0
        for payload in redis.lrange(key, 0, 999):
            digest = hashlib.sha1(payload).hexdigest()
            if digest in self.seen:
                continue
            self.seen.add(digest)
            if self.rng.random() < self.share:
                dropped += redis.lrem(key, 1, payload)
        return dropped


def message_dropper(share: float, rng: random.Random) -> MessageDropper:
    """The dropper for the broker this process is configured with."""
    if settings.REDIS_URL:
        return RedisMessageDropper(share, rng)
    return OrmMessageDropper(share, rng)


class OutageWindow:
    """Takes one simulated service down once a fifth of the orders are placed and one of them is
    done, brings it back `seconds` later, and reads from the service's own records how many calls
    it refused meanwhile.

    The service has answered before it goes down (a circuit breaker sees it healthy first), and
    in a run that places its orders as others finish, those placed after it come back see it up
    again. The soak brings the service back on its way out, whatever happens (`end`).
    """

    START_SHARE = 0.2

    def __init__(self, service: str, seconds: float, orders: int):
        self.service, self.seconds = service, seconds
        self.placed_before = max(1, math.ceil(orders * self.START_SHARE))
        self.began = self.ended = None  # the engine clock's times, to match the refusals'
        self.began_after = 0.0  # seconds into the run
        self._began_monotonic = 0.0

    def reset(self) -> None:
        """Bring the service up: a soak killed during its outage left it down."""
        outage_set(service=self.service, on=False, by=APP_NAME)

    def tick(self, *, placed: int, at_rest: int, elapsed: float) -> str | None:
        """Switch the service when it is time, and say so."""
        if self.began is None and placed >= self.placed_before and at_rest:
            self.began, self.began_after = clock.now(), elapsed
            self._began_monotonic = time.monotonic()
            outage_set(service=self.service, on=True, by=APP_NAME)
            return f"{self.service} is down for {self.seconds:g}s"
        if self.began is not None and time.monotonic() - self._began_monotonic >= self.seconds:
            return self.end()
        return None

    def end(self) -> str | None:
        if self.began is None or self.ended is not None:
            return None
        outage_set(service=self.service, on=False, by=APP_NAME)
        self.ended = clock.now()
        return f"{self.service} is back up"

    def summary(self) -> dict:
        """What the report shows; `refused` per operation, only calls refused for the outage."""
        if self.began is None:
            return {"service": self.service, "began": False}
        refused = calls_refused(self.service, reason="outage", since=self.began, until=self.ended)
        return {
            "service": self.service,
            "began": True,
            "began_after_seconds": round(self.began_after, 1),
            "seconds": round(((self.ended or clock.now()) - self.began).total_seconds(), 1),
            "refused": refused,
            "refused_total": sum(refused.values()),
        }
