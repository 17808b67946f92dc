"""Limits a service publishes: so many calls per second, so many at once, whatever the number
of workers and machines.

A step declares a `ServiceLimit` (processes.workflow); steps that call the same service name
it alike and share it. Its state is one `ServiceLimiter` row per service and flow key, changed
under its row lock in the transaction that claims the call, so two workers never both take the
last place. The rate is a sliding log: a call goes only if fewer than `calls` calls went in the
last `per_seconds` plus LIMIT_MARGIN (the time between the claim and the call reaching the
service, which the service sees and we do not), so the service never counts more than `calls`
in any such window. A call over the limit waits its turn without spending an attempt: for the
rate, in the next free slot (slots are handed out one `per_seconds / calls` apart, so waiting
calls come back one by one, not as a herd); for the concurrency, until a call in flight ends
(the worker that ends one wakes the longest waiting), or LIMIT_RECHECK at the latest. A call in
flight whose worker died gives its place back when its lease ends.

Locks: the process row first, then its circuit, then the limiter; a transaction that touched a
limiter claims nothing more (processes.runner), so none holds two limiters.
"""

import random
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from processes import clock, conf, journal
from processes.models import EventKind, Hold, ServiceLimiter
from processes.wakeup import send_wakeups
from processes.workflow import ServiceLimit, Step, registry

_jitter = random.Random()


def acquire(process, step: Step, key: str, now: datetime) -> bool:
    """Take a place for the process's call under its step's limit; True when it may call now.
    Otherwise the process waits its turn (`next_run_at` moved, one journal line when it
    begins; the caller saves)."""
    limit: ServiceLimit = step.limit
    limiter = _lock(limit.service, key)
    at, margin = now.timestamp(), conf.get("LIMIT_MARGIN")
    recent = [t for t in limiter.recent if t > at - limit.per_seconds - margin]
    permits = {pk: until for pk, until in limiter.permits.items() if until > at and pk != str(process.pk)}
    rate_ok = limit.calls is None or len(recent) < limit.calls
    room = limit.concurrency is None or len(permits) < limit.concurrency
    # Calls already waiting for a rate slot go first: a newcomer takes a slot behind them.
    queued = limiter.next_slot_at is not None and limiter.next_slot_at > now and process.held_by != Hold.LIMIT
    if rate_ok and room and not queued:
        if limit.calls is not None:
            recent = [*recent, at][-limit.calls :]
        if limit.concurrency is not None:
            permits[str(process.pk)] = at + step.attempt_timeout + conf.get("LEASE_GRACE")
        _save(limiter, recent, permits, limiter.next_slot_at, now)
        if process.held_by == Hold.LIMIT:
            process.held_since, process.held_by, process.held_key = None, "", ""
        return True
    turn = _next_turn(limiter, limit, recent, rate_ok and not queued, now)
    _save(limiter, recent, permits, limiter.next_slot_at, now)
    _wait(process, step, key, limit, turn, now)
    return False


def _next_turn(limiter: ServiceLimiter, limit: ServiceLimit, recent: list, rate_ok: bool, now: datetime):
    """When a call held back looks again: the next free rate slot (and the one after it is
    handed to the next), or, held back for the concurrency only, at LIMIT_RECHECK at the
    latest (a call that ends wakes it sooner)."""
    if rate_ok:
        return now + timedelta(seconds=conf.get("LIMIT_RECHECK") * _jitter.uniform(0.8, 1.2))
    frees = now
    if len(recent) >= limit.calls:  # when the oldest call in the window leaves it
        frees = datetime.fromtimestamp(
            recent[0] + limit.per_seconds + conf.get("LIMIT_MARGIN"), tz=now.tzinfo
        )
    slot = max(filter(None, [limiter.next_slot_at, frees, now]))
    limiter.next_slot_at = slot + timedelta(seconds=limit.per_seconds / limit.calls)
    return slot


def _wait(process, step: Step, key: str, limit: ServiceLimit, turn: datetime, now: datetime) -> None:
    process.next_run_at = turn
    if process.held_by == Hold.LIMIT and process.held_key == key:
        return
    process.held_since, process.held_by, process.held_key = now, Hold.LIMIT, key
    account = f" ({key})" if key else ""
    journal.note(
        process,
        EventKind.CIRCUIT,
        f"{step.name} waits its turn under {limit}{account}: next look at "
        f"{turn.isoformat(timespec='milliseconds')}; no attempt is spent",
    )


def release(process, step: Step, key: str) -> None:
    """The process's call ended (answered, failed or given up): give its place back, and wake
    the process that has waited longest for one, after commit."""
    limit: ServiceLimit = step.limit
    limiter = _lock(limit.service, key)
    if str(process.pk) not in limiter.permits:
        return
    permits = {pk: until for pk, until in limiter.permits.items() if pk != str(process.pk)}
    _save(limiter, limiter.recent, permits, limiter.next_slot_at, clock.now())
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
    model = registry.model_class(label)
    with transaction.atomic():
        waiting = model.objects.filter(
            step__in=steps, held_since__isnull=False, held_by=Hold.LIMIT, held_key=key
        )
        pk = (
            waiting.order_by("held_since")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)
            .first()
        )
        if pk is None:
            return False
        now = clock.now()
        model.objects.filter(pk=pk).update(next_run_at=now, enqueued_at=now)
        transaction.on_commit(lambda: send_wakeups(label, [str(pk)]), robust=True)
    return True


def holds_places(step: Step) -> bool:
    """Whether a call at the step takes a place that its end must give back."""
    return step.limit is not None and step.limit.concurrency is not None


def _lock(service: str, key: str) -> ServiceLimiter:
    try:
        with transaction.atomic():
            ServiceLimiter.objects.get_or_create(service=service, key=key)
    except IntegrityError:
        pass  # made by someone else just now
    return ServiceLimiter.objects.select_for_update().get(service=service, key=key)


def _save(limiter: ServiceLimiter, recent: list, permits: dict, next_slot_at, now: datetime) -> None:
    limiter.recent, limiter.permits, limiter.next_slot_at, limiter.updated_at = (
        recent,
        permits,
        next_slot_at,
        now,
    )
    limiter.save(update_fields=["recent", "permits", "next_slot_at", "updated_at"])
