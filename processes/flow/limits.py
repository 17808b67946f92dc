"""Limits a service publishes: so many calls per second, so many at once, whatever the number
of workers and machines.

A step declares a `ServiceLimit` (processes.policies); steps that call the same service name
it alike and share it, per flow key. The decision is `limit_state.admit`, made atomically on the
limit's shared state (`limiter_stores`: a row under its lock in the claim's transaction, or a
Redis key when LIMITS_REDIS_URL is set). The rate is a sliding log widened by LIMIT_MARGIN (the
time between the claim and the call reaching the service, which the service counts by), so the
service never counts more than `calls` in any window. A call over the limit waits its turn
without spending an attempt: for the rate, in the next free slot (one `per_seconds / calls`
apart, behind the calls already waiting, so they come back one by one, not as a herd); for the
concurrency, until a call in flight ends (its worker wakes the longest waiting), or
LIMIT_RECHECK at the latest. A call in flight whose worker died gives its place back when its
lease ends. When the store does not answer, no call goes on a guess: it looks again later.

Locks: the process row first, then its circuit, then the limiter; a transaction that touched a
limiter claims nothing more (processes.runner), so none holds two limiters.
"""

import logging
import random
from datetime import datetime

from django.db import transaction

from processes import clock, conf, journal, leases
from processes.flow import limit_state
from processes.flow.limiter_stores import LimiterUnavailable, store
from processes.models.flow import where
from processes.models.journal import EventKind
from processes.models.process import Hold
from processes.policies import ServiceLimit
from processes.wakeup import wake_longest_held
from processes.workflow import Step, registry

logger = logging.getLogger("processes.limits")
_jitter = random.Random()


def acquire(process, step: Step, key: str, now: datetime) -> bool:
    """Take a place for the process's call under its step's limit; True when it may call now.
    Otherwise the process waits its turn (`next_run_at` moved, one journal line when it
    begins; the caller saves)."""
    limit: ServiceLimit = step.limit
    lease = leases.seconds(step)
    decide = dict(
        process=str(process.pk),
        waiting=process.held_by == Hold.LIMIT,
        margin=conf.get("LIMIT_MARGIN"),
        recheck=conf.get("LIMIT_RECHECK") * _jitter.uniform(0.8, 1.2),
    )

    def admit(state, at: float):  # `at`: read by the store once it holds the limit's state
        return limit_state.admit(state, limit, now=at, lease_ends=at + lease, **decide)

    unknown = ""
    try:
        turn = store().update(limit.service, key, admit)
    except LimiterUnavailable as error:
        logger.warning("%s: %s", limit, error)
        turn, unknown = limit_state.Turn(go=False, at=now.timestamp() + decide["recheck"]), f" ({error})"
    if turn.go:
        if process.held_by == Hold.LIMIT:
            process.stop_holding()
        return True
    process.next_run_at = clock.from_timestamp(turn.at)
    if process.hold(Hold.LIMIT, key, now):
        journal.note(
            process,
            EventKind.CIRCUIT,
            f"{where(step.name, key)} waits its turn under {limit}{unknown}: next look at "
            f"{clock.written(process.next_run_at)}; no attempt is spent",
        )
    return False


def release(process, step: Step, key: str) -> None:
    """The process's call ended (answered, failed or given up): give its place back, and wake
    the process that has waited longest for one, after commit."""
    limit: ServiceLimit = step.limit
    try:
        freed = store().update(
            limit.service, key, lambda state, at: limit_state.give_back(state, process=str(process.pk))
        )
    except LimiterUnavailable as error:  # its place comes back when its lease would have ended
        logger.warning("%s: %s", limit, error)
        return
    if freed:
        label, steps = process.label(), sorted({step.name, *sharing(process.label(), limit.service)})
        transaction.on_commit(lambda: wake_next_waiting(label, steps, key), robust=True)


def sharing(label: str, service: str) -> list[str]:
    """The steps of the workflow (any version) whose calls count against the service's limit."""
    return sorted(
        {
            step.name
            for version in registry.versions(label)
            for step in registry.for_model(label, version).steps
            if step.limit is not None and step.limit.service == service
        }
    )


def wake_next_waiting(label: str, steps: list[str], key: str) -> bool:
    """Make the process that has waited longest under the limit due now; False if none waits."""
    waiting = registry.model_class(label).objects.filter(
        step__in=steps, held_since__isnull=False, held_by=Hold.LIMIT, held_key=key
    )
    return wake_longest_held(waiting)


def holds_places(step: Step) -> bool:
    """Whether a call at the step takes a place that its end must give back."""
    return step.limit is not None and step.limit.concurrency is not None
