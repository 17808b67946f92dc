"""`manage.py bench --end-to-end`: latency as a shop feels it, at steady rates through the API.

The service runs as production runs it (fulfillment.proving.e2e_stack: gunicorn, a real
cluster, the simulated picker; the simulators' faults and latency off); the bench places
orders through the HTTP API at each rate for `seconds`, open loop (fulfillment.proving.e2e_load),
then waits until every order placed is waiting for its pick and reads from the journal when it
got its label and its pick task (fulfillment.proving.e2e_figures). Before the next step it
waits for the step's orders to complete and the broker's queue to empty, so that a step does
not inherit the last one's picks or wake-ups.

The rates given are measured in turn; with `ramp`, the rate then steps up from `ramp_start`
(by default one step above the highest rate that held) by `ramp_step` until a step does not
hold or `max_rate` is passed. The highest steady rate is the highest that held with every
lower rate measured holding too.
"""

import logging
import os
import time
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django_q.brokers import get_broker

from fulfillment.api.clients import api_client_create
from fulfillment.environment import env_int
from fulfillment.models import Order, OrderState
from fulfillment.proving import e2e_figures
from fulfillment.proving.demo import demo_data_load
from fulfillment.proving.e2e_load import UNITS_PER_ORDER, OrderPlacer, open_loop, warm_up
from fulfillment.proving.e2e_meter import StepMeter, cpu_per_order
from fulfillment.proving.e2e_stack import Stack, service_stack
from processes import conf as processes_conf
from processes.models.journal import EventKind, ProcessEvent, StepAttempt

CLIENT = "bench-e2e"
LABEL, PICK = OrderState.LABEL_CREATED, OrderState.AWAITING_PICK
# Orders placed one by one before the first step: every web worker answers once, the workers
# fork, connect and import.
WARM_UP_ORDERS = 6
POLL_EVERY = 0.5
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EndToEndBench:
    """What one run of the end-to-end bench is asked to do."""

    rates: tuple[float, ...]
    seconds: float
    workers: int
    timeout: float  # how long a step's orders may take to reach their pick, then to complete
    ramp: bool = False
    ramp_start: float | None = None
    ramp_step: float = 5.0
    max_rate: float = 200.0

    def planned_orders(self) -> int:
        """The most orders the run may place: its rates, and every ramp step up to max_rate."""
        rates = list(self.rates)
        if self.ramp:
            rate = self.ramp_start or self.ramp_step
            while rate <= self.max_rate:
                rates.append(rate)
                rate += self.ramp_step
        return WARM_UP_ORDERS + round(sum(rates) * self.seconds)


def end_to_end_run(bench: EndToEndBench, *, progress=None) -> dict:
    """Run the steps on a fresh service stack; returns the result (see docs/performance.md)."""
    say = progress or (lambda message: None)
    load_before = _load()
    demo_data_load(stock_per_product=UNITS_PER_ORDER * bench.planned_orders() + 100)
    token, _ = api_client_create(name=CLIENT)
    steps: list[dict] = []
    with service_stack(workers=bench.workers) as stack:
        placer = OrderPlacer(port=stack.port, token=token)
        warm = warm_up(placer, orders=WARM_UP_ORDERS)
        _wait_for([p.order_id for p in warm], bench.timeout, stack)
        for rate in bench.rates:
            steps.append(_step(placer, stack, bench, rate, phase="rates", say=say))
        if bench.ramp:
            for rate in _ramp_rates(bench, steps):
                steps.append(_step(placer, stack, bench, rate, phase="ramp", say=say))
                if not steps[-1]["held"]:
                    break
    return {
        "mode": "end_to_end",
        "database": connection.vendor,
        "broker": "redis" if "redis" in settings.Q_CLUSTER else "orm",
        "workers": bench.workers,
        "web_workers": env_int("WEB_CONCURRENCY", 3, minimum=1),
        "seconds_per_step": bench.seconds,
        "settings": _settings(),
        "hold_rule": e2e_figures.HOLD_RULE,
        "load_average": {"before": load_before, "after": _load()},
        "steps": steps,
        "ramp": _ramp_about(bench, steps),
        "highest_steady_rate": e2e_figures.highest_steady_rate(steps),
    }


def _step(placer: OrderPlacer, stack: Stack, bench: EndToEndBench, rate: float, *, phase: str, say) -> dict:
    say(f"{phase}: {rate:g} orders/s for {bench.seconds:g} s")
    load_before = _load()
    with StepMeter(stack) as meter:
        placements = open_loop(placer, rate=rate, seconds=bench.seconds)
        load_after = _load()
        stack.check()
        ids = [p.order_id for p in placements if p.placed]
        _wait_for(ids, bench.timeout, stack)
        figures = e2e_figures.step_figures(
            rate=rate,
            seconds=bench.seconds,
            placements=placements,
            reached=_reached(ids),
            claimed=_claimed(ids),
        )
        _wait_for(ids, bench.timeout, stack, state=OrderState.COMPLETED)
    figures["queue_left_after_completion"] = _wait_for_empty_queue(bench.timeout, stack)
    figures["journal"] = _journal_counts(ids)
    figures["cpu_per_order"] = cpu_per_order(meter.seconds, len(ids))
    figures["queue_depth_max"] = max(meter.queue_depths, default=0)
    say(
        f"  p95 201→label {figures['to_label_p95_ms']} ms, held: {figures['held']} "
        f"{'; '.join(figures['not_held_because'])}"
    )
    return {"phase": phase, **figures, "load_average": {"before": load_before, "after": load_after}}


def _ramp_rates(bench: EndToEndBench, steps: list[dict]):
    """The ramp's rates: up by ramp_step, skipping rates that held already, ending at one that
    did not."""
    held = {s["target_rate"] for s in steps if s["held"]}
    failed = {s["target_rate"] for s in steps if not s["held"]}
    rate = bench.ramp_start or (e2e_figures.highest_steady_rate(steps) or 0) + bench.ramp_step
    while rate <= bench.max_rate and rate not in failed:
        if rate not in held:
            yield rate
        rate = round(rate + bench.ramp_step, 6)


def _ramp_about(bench: EndToEndBench, steps: list[dict]) -> dict | None:
    if not bench.ramp:
        return None
    ramp = [s for s in steps if s["phase"] == "ramp"]
    return {
        "step": bench.ramp_step,
        "max_rate": bench.max_rate,
        "rates": [s["target_rate"] for s in ramp],
        # Every ramp step held up to the highest rate asked for (not: stopped by a failed rate).
        "reached_max_rate": bool(ramp)
        and ramp[-1]["held"]
        and ramp[-1]["target_rate"] + bench.ramp_step > bench.max_rate,
    }


def _wait_for(ids: list, timeout: float, stack: Stack, *, state: str | None = None) -> bool:
    """Wait until every order `ids` is waiting for its pick (by the journal), or is in `state`;
    False if `timeout` passed first (the figures then count the orders that did not)."""
    keys = [uuid.UUID(str(pk)) for pk in ids]
    deadline = time.monotonic() + timeout
    while True:
        if state is None:
            done = _reached_pick(keys) >= len(keys)
        else:
            done = not Order.objects.filter(pk__in=keys).exclude(state=state).exists()
        if done:
            return True
        stack.check()
        if time.monotonic() > deadline:
            logger.warning("%d orders did not get there within %gs", len(keys), timeout)
            return False
        time.sleep(POLL_EVERY)


def _wait_for_empty_queue(timeout: float, stack: Stack) -> int:
    """Wait until no task waits in the broker (wake-ups sent twice, for orders long done, are
    worked off before the next step); returns how many waited when every order had completed."""
    broker = get_broker()
    left = broker.queue_size()
    deadline = time.monotonic() + timeout
    while broker.queue_size() > 0 and time.monotonic() < deadline:
        stack.check()
        time.sleep(POLL_EVERY)
    return left


def _reached_pick(keys: list) -> int:
    return (
        ProcessEvent.objects.filter(process_id__in=keys, kind=EventKind.TRANSITION, to_state=PICK)
        .values("process_id")
        .distinct()
        .count()
    )


def _reached(ids: list) -> dict[str, tuple[float, float]]:
    """The journal's times (epoch seconds) of each order's label and pick task, for the orders
    that have both."""
    rows = ProcessEvent.objects.filter(
        process_id__in=[uuid.UUID(str(pk)) for pk in ids],
        kind=EventKind.TRANSITION,
        to_state__in=[LABEL, PICK],
    ).values_list("process_id", "to_state", "created_at")
    first: dict[tuple[str, str], float] = {}
    for process_id, to_state, created_at in rows:
        key = (str(process_id), to_state)
        first[key] = min(first.get(key, float("inf")), created_at.timestamp())
    return {
        str(pk): (first[(str(pk), LABEL)], first[(str(pk), PICK)])
        for pk in ids
        if (str(pk), LABEL) in first and (str(pk), PICK) in first
    }


def _claimed(ids: list) -> dict[str, float]:
    """When a worker first claimed each order (its earliest step attempt's start)."""
    rows = (
        StepAttempt.objects.filter(process_id__in=[uuid.UUID(str(pk)) for pk in ids])
        .values("process_id")
        .annotate(first=Min("started_at"))
        .values_list("process_id", "first")
    )
    return {str(process_id): first.timestamp() for process_id, first in rows}


def _journal_counts(ids: list) -> dict[str, int]:
    """What else the step's orders met: retries, circuits, leases lost, attempts in all."""
    keys = [uuid.UUID(str(pk)) for pk in ids]
    kinds = dict(
        ProcessEvent.objects.filter(process_id__in=keys)
        .exclude(kind=EventKind.TRANSITION)
        .values("kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    return {
        "retries_scheduled": kinds.get(EventKind.RETRY_SCHEDULED, 0),
        "circuit_holds": kinds.get(EventKind.CIRCUIT, 0),
        "leases_expired": kinds.get(EventKind.LEASE_EXPIRED, 0),
        "needs_attention": kinds.get(EventKind.ATTENTION, 0),
        "step_attempts": StepAttempt.objects.filter(process_id__in=keys).count(),
    }


def _settings() -> dict:
    """The settings that shape the latency, as the service's processes read them here."""
    return {
        "production": settings.PRODUCTION,
        "broker_poll_seconds": settings.Q_CLUSTER["poll"],
        "sweep_interval_seconds": processes_conf.get("SWEEP_INTERVAL"),
        "redeliver_after_seconds": processes_conf.get("REDELIVER_AFTER"),
        "carrier_rate_limit": settings.CARRIER_RATE_LIMIT,
    }


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]
