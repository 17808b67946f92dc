"""Measure the engine against the bare queue it runs on, in one run (manage.py bench).

Three measurements on the configured database and broker: django-q2 no-op tasks per second
(each one committed UPDATE), orders and step transitions per second through real workers, and
the engine's own cost per step (claim, transition, journal, enqueue; not the simulated
service) measured in this process: time, SQL statements and commits.
"""

import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_q.tasks import async_task

from fulfillment.demo import demo_data_load
from fulfillment.models import Order, OrderState
from fulfillment.ordering import LineRequest, order_place
from fulfillment.picking import simulated_picker_run
from fulfillment.workflow import ORDER_WORKFLOW
from processes import runner
from processes.journal import Actor
from processes.models import EventKind, ProcessEvent

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


@dataclass
class StepCost:
    step: str
    samples: int
    p50_ms: float
    p95_ms: float
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
            async_task("fulfillment.benchmarks.noop_task")
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
    """Drive orders in this process, timing claim and apply (not the service call) per step."""
    demo_data_load(stock_per_product=orders * 10)
    samples: dict[str, list[tuple[float, int, int]]] = {}
    label = Order._meta.label_lower
    for _ in range(orders):
        order = _place()
        for _ in range(10):
            measured = _measure_one_step(label, order.pk)
            if measured is None:
                if simulated_picker_run(delay=0) == 0:
                    break
                continue
            samples.setdefault(measured[0], []).append(measured[1:])
    return [_summarise(step, values) for step, values in samples.items()]


def _measure_one_step(label, pk):
    """One step as run_process would run it, with the service call left out of the figures."""
    with commit_counter() as commits, CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        claim = runner.claim_step(ORDER_WORKFLOW, pk, "bench")
        if claim is None:
            return None
        step = claim.step.name if isinstance(claim, runner.Claim) else _last_step(pk)
        service = 0.0
        if isinstance(claim, runner.Claim):
            with _paused(queries) as paused:
                call_started = time.perf_counter()
                outcome = runner.perform(claim)
                service = time.perf_counter() - call_started
            runner.apply_outcome(claim, outcome)
            statements = len(queries) - paused["statements"]
        else:
            statements = len(queries)
        engine_ms = (time.perf_counter() - started - service) * 1000
    return step, engine_ms, statements, commits["n"]


def _last_step(pk) -> str:
    from processes.models import StepAttempt

    return (
        StepAttempt.objects.filter(process_id=pk).order_by("-id").values_list("step", flat=True).first()
        or "?"
    )


@contextmanager
def _paused(queries):
    """Count the statements made during the service call, to leave them out."""
    before = len(queries)
    paused = {"statements": 0}
    yield paused
    paused["statements"] = len(queries) - before


@contextmanager
def commit_counter():
    """Count the commits of the default connection (the engine's), not the simulators'."""
    counted = {"n": 0}
    original = connection.commit

    def counting_commit():
        counted["n"] += 1
        return original()

    connection.commit = counting_commit
    try:
        yield counted
    finally:
        del connection.commit


def _summarise(step, values) -> StepCost:
    times = sorted(v[0] for v in values)
    p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
    return StepCost(
        step=step,
        samples=len(values),
        p50_ms=round(statistics.median(times), 2),
        p95_ms=round(p95, 2),
        statements=round(statistics.mean(v[1] for v in values), 1),
        commits=round(statistics.mean(v[2] for v in values), 1),
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
def cluster(workers: int):
    """A real qcluster in its own process group, with the simulators quiet and no picker."""
    env = {**os.environ, **QUIET_SERVICES, "Q_WORKERS": str(workers)}
    child = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
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
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            child.kill()


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
