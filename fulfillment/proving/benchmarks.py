"""Measure the engine against the bare queue it runs on, in one run (manage.py bench).

Three measurements on the configured database and broker: django-q2 no-op tasks per second
(each one committed UPDATE), orders and step transitions per second through real workers, and
the engine's own cost per step (claim, transition, journal, enqueue; not the simulated
service) measured in this process: wall and CPU time, SQL statements and commits.
"""

import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction
from django.test.utils import override_settings
from django_q.tasks import async_task

from fulfillment.models import Order, OrderState
from fulfillment.ordering import LineRequest, order_place
from fulfillment.proving.demo import demo_data_load
from fulfillment.simulators.picker import simulated_picker_run
from processes import runner
from processes.journal import Actor
from processes.models.journal import EventKind, ProcessEvent

COUNTER_TABLE = "bench_counter"
ADDRESS = {
    "name": "Bench",
    "line1": "1 Loop Road",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
QUIET_SERVICES = {
    "SIM_TRANSIENT_ERROR_RATE": "0",
    "SIM_AMBIGUOUS_TIMEOUT_RATE": "0",
    "SIM_LATENCY_MS": "0",
    "SIMULATED_PICKER": "0",
}
# The same, for the steps this process drives itself (the simulators read it at call time).
EVERY_STEP = "(every step)"
QUIET_SIMULATORS = {"TRANSIENT_ERROR_RATE": 0.0, "AMBIGUOUS_TIMEOUT_RATE": 0.0, "LATENCY_MS": 0, "OUTAGE": []}


@dataclass
class StepCost:
    step: str
    samples: int
    p50_ms: float
    p95_ms: float
    cpu_ms: float  # this process's CPU (Python, Django, the driver), not the database's
    statements: float
    commits: float


def noop_task() -> None:
    """The bare queue's unit of work: one trivial committed UPDATE."""
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {COUNTER_TABLE} SET n = n + 1 WHERE id = 1")


def bare_queue(*, tasks: int, workers: int, timeout: float) -> dict:
    _reset_counter()
    with cluster(workers):
        _wait(lambda: _counter() >= 0, timeout)
        started = time.monotonic()
        for _ in range(tasks):
            async_task("fulfillment.proving.benchmarks.noop_task")
        _wait(lambda: _counter() >= tasks, timeout)
        elapsed = time.monotonic() - started
    return {"tasks": tasks, "seconds": round(elapsed, 2), "tasks_per_second": round(tasks / elapsed, 1)}


def engine_end_to_end(*, orders: int, workers: int, timeout: float) -> dict:
    demo_data_load(stock_per_product=orders * 10)
    with cluster(workers):
        started = time.monotonic()
        ids = [_place().pk for _ in range(orders)]

        def finished():
            simulated_picker_run(delay=0)
            return not Order.objects.filter(pk__in=ids).exclude(state=OrderState.COMPLETED).exists()

        _wait(finished, timeout, pause=0.05)
        elapsed = time.monotonic() - started
    transitions = (
        ProcessEvent.objects.filter(process_id__in=ids, kind=EventKind.TRANSITION)
        .exclude(transition="create")
        .count()
    )
    return {
        "orders": orders,
        "seconds": round(elapsed, 2),
        "orders_per_second": round(orders / elapsed, 2),
        "transitions": transitions,
        "transitions_per_second": round(transitions / elapsed, 1),
    }


def engine_cost_per_step(*, orders: int) -> list[StepCost]:
    """Drive orders in this process as a worker does (run_process, faults off), and charge each
    step with the engine's statements, commits and time; the service calls are left out."""
    demo_data_load(stock_per_product=orders * 10)
    label = Order._meta.label_lower
    meter = StepMeter()
    with override_settings(SIMULATORS=QUIET_SIMULATORS), meter.installed():
        for _ in range(orders):
            order = _place()
            for _ in range(10):
                with meter.task():
                    handled = runner.run_process(label, order.pk, worker="bench")
                if handled == 0 and simulated_picker_run(delay=0) == 0:
                    break
    every = [sample for values in meter.samples.values() for sample in values]
    costs = [_summarise(step, values) for step, values in meter.samples.items()]
    return [*costs, _summarise(EVERY_STEP, every)] if every else costs


class StepMeter:
    """Split the engine's work in a task into steps, as a worker runs them (chained).

    A step is charged with everything from the end of the step before it (or the task's
    start) to the end of its attempt, and, when it is the last attempt settled in its
    transaction, up to that transaction's commit: a transaction that applies one step and
    claims the next is counted once, not twice. Service calls (`runner.perform`) are paused.
    """

    def __init__(self):
        self.samples: dict[str, list[list]] = {}
        self._on = False
        self._statements, self._commits, self._started, self._cpu_started = 0, 0, 0.0, 0.0
        self._paused, self._cpu_paused = 0.0, 0.0
        self._since = (0.0, 0.0, 0, 0)  # the totals when the current segment began
        self._open = None  # (step, totals when its attempt ended) until its commit
        self._last = None  # the task's last sample, which takes the task's tail

    def _totals(self) -> tuple[float, float, int, int]:
        ms = (time.perf_counter() - self._started - self._paused) * 1000
        cpu_ms = (time.process_time() - self._cpu_started - self._cpu_paused) * 1000
        return ms, cpu_ms, self._statements, self._commits

    def _emit(self, step: str, until: tuple) -> None:
        self._last = [b - a for a, b in zip(self._since, until, strict=True)]
        self.samples.setdefault(step, []).append(self._last)
        self._since = until

    @contextmanager
    def installed(self):
        """Count the default connection's statements (Django's debug log) and commits."""
        meter, saved = self, (connection.force_debug_cursor, connection.queries_log)
        perform, log_attempt = runner.perform, runner._log_attempt

        class Tally(deque):
            def append(self, entry):
                if meter._on:
                    meter._statements += 1
                    if entry["sql"] == "COMMIT":
                        meter._commits += 1
                        meter._committed()

        def paused_perform(claim):
            self._on, started, cpu_started = False, time.perf_counter(), time.process_time()
            try:
                return perform(claim)
            finally:
                self._paused += time.perf_counter() - started
                self._cpu_paused += time.process_time() - cpu_started
                self._on = True

        def marking_log(process, ctx, *args, **kwargs):
            log_attempt(process, ctx, *args, **kwargs)
            if self._on:
                if self._open:
                    self._emit(*self._open)
                self._open = (ctx.step, self._totals())

        connection.force_debug_cursor, connection.queries_log = True, Tally()
        runner.perform, runner._log_attempt = paused_perform, marking_log
        try:
            yield self
        finally:
            connection.force_debug_cursor, connection.queries_log = saved
            runner.perform, runner._log_attempt = perform, log_attempt

    @contextmanager
    def task(self):
        """One queue task: whatever its last step leaves (save, commit) is charged to it."""
        self._statements, self._commits, self._paused, self._cpu_paused = 0, 0, 0.0, 0.0
        self._started, self._cpu_started = time.perf_counter(), time.process_time()
        self._since, self._open, self._last = (0.0, 0.0, 0, 0), None, None
        self._on = True
        try:
            yield
        finally:
            self._on = False
            now = self._totals()
            if self._open:
                self._emit(self._open[0], now)
            elif self._last is not None:
                tail = [b - a for a, b in zip(self._since, now, strict=True)]
                self._last[:] = [a + b for a, b in zip(self._last, tail, strict=True)]

    def _committed(self) -> None:
        if self._open:
            self._emit(self._open[0], self._totals())
            self._open = None


def _summarise(step, values) -> StepCost:
    times = sorted(v[0] for v in values)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return StepCost(
        step=step,
        samples=len(values),
        p50_ms=round(statistics.median(times), 2),
        p95_ms=round(p95, 2),
        cpu_ms=round(statistics.mean(v[1] for v in values), 2),
        statements=round(statistics.mean(v[2] for v in values), 1),
        commits=round(statistics.mean(v[3] for v in values), 1),
    )


def _place() -> Order:
    return order_place(
        email="bench@example.com",
        shipping_address=ADDRESS,
        lines=[LineRequest("MUG-001", 1), LineRequest("NB-A5", 2)],
        payment_token="tok_ok",
        actor=Actor("client", "bench"),
    )


@contextmanager
def cluster(workers: int, env: dict[str, str] | None = None, stop_grace: float = 30):
    """What production runs (the Procfile's worker: `run_workers`, the supervisor with its
    qcluster and its sweeper process) in its own process group, with the simulators quiet and
    no picker; `env` adds to its environment. Yields the supervisor's Popen: its process tree
    is everything that does the work, the sweeper included. Asked to stop, it has `stop_grace`
    seconds before its whole group is killed (a stopping cluster waits for its running tasks)."""
    env = {**os.environ, **QUIET_SERVICES, "Q_WORKERS": str(workers), **(env or {})}
    child = subprocess.Popen(
        [sys.executable, "manage.py", "run_workers"],
        cwd=settings.BASE_DIR,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield child
    finally:
        child.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=stop_grace)
        # The supervisor stops its cluster and sweeper first; whatever is left goes with the group.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # the session leader's pid is the group's id
        child.wait()


def _reset_counter() -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {COUNTER_TABLE} (id integer PRIMARY KEY, n integer NOT NULL)"
        )
        cursor.execute(f"DELETE FROM {COUNTER_TABLE}")
        cursor.execute(f"INSERT INTO {COUNTER_TABLE} (id, n) VALUES (1, 0)")


def _counter() -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT n FROM {COUNTER_TABLE} WHERE id = 1")
        return cursor.fetchone()[0]


def _wait(done, timeout: float, pause: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"the benchmark did not finish within {timeout:g}s")
        time.sleep(pause)


def as_dict(costs: list[StepCost]) -> list[dict]:
    return [asdict(cost) for cost in costs]
