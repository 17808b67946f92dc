"""Find processes the queue forgot and wake them: the database is the source of truth.

One sweep looks, per workflow, at rows whose `next_run_at` has passed (a due step or retry, an
expired lease, a wait past its deadline) and whose wake-up is missing or looks lost, using the
partial index on `next_run_at`. Rows are taken with SKIP LOCKED, so sweepers on several machines
share the work instead of doubling it. A sweeper task loops for about a minute, sweeping every
SWEEP_INTERVAL, then hands over to its successor; a django-q2 Schedule restarts the loop if the
chain ever breaks (a killed worker, a lost message). Each sweep also delivers the outbox's due
emails (processes.outbox).
"""

import logging
import time
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django_q.tasks import async_task

from processes import bulk, clock, conf, outbox
from processes.flow import sweep
from processes.models.workers import SweeperLease
from processes.wakeup import send_wakeups, worker_name
from processes.workflow import registry

logger = logging.getLogger("processes.sweeper")

LOOP_TASK = "processes.tasks.sweep_loop"
LOOP_LEASE = "sweeper"


def due_queryset(model, now):
    stale = now - timedelta(seconds=conf.get("REDELIVER_AFTER"))
    return model.objects.filter(next_run_at__lte=now).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=F("next_run_at")) | Q(enqueued_at__lt=stale)
    )


def sweep_once() -> int:
    """Send wake-ups for every process that is due and not (or no longer) in the queue, and
    the outbox's due emails (those whose delivery after commit failed or never ran); restart
    bulk operations whose task died; returns the processes woken."""
    sweep.tick()
    woken = sum(_sweep(registry.model_class(label)) for label in registry.labels())
    outbox.deliver_due()
    bulk.restart_stale()
    return woken


def _sweep(model) -> int:
    with transaction.atomic():
        now = clock.now()
        query = due_queryset(model, now).select_for_update(skip_locked=True).order_by("next_run_at")
        due = [str(pk) for pk in query.values_list("pk", flat=True)[: conf.get("SWEEP_BATCH")]]
        if not due:
            return 0
        model.objects.filter(pk__in=due).update(enqueued_at=now)
        label = model._meta.label_lower
        transaction.on_commit(lambda: send_wakeups(label, due), robust=True)
    logger.info("sweeper woke %d %s", len(due), label)
    return len(due)


def sweep_loop(run_seconds: float | None = None) -> int:
    """Sweep every SWEEP_INTERVAL for a while if no other loop runs, then hand over.

    The loop holds a short lease that it renews on every sweep. A loop that finds the lease
    held watches it for a moment: a live holder renews it and the spare loop ends; a dead
    holder's lease runs out and the spare loop takes over. Spare loops come from worker
    start-up, the minutely schedule and `ensure_sweeper` when a retry is scheduled.
    """
    run_seconds = run_seconds or conf.get("SWEEPER_RUN_SECONDS")
    me = worker_name()
    if not _hold_loop_lease(me) and not _take_over_if_dead(me):
        return 0
    sweeps, stop_at = 0, time.monotonic() + run_seconds
    try:
        while time.monotonic() < stop_at and _hold_loop_lease(me):
            sweep_once()
            sweeps += 1
            time.sleep(conf.get("SWEEP_INTERVAL"))
    finally:
        # Free, but its time stays: "alive until then" for /readyz and `revive_if_dead`.
        SweeperLease.objects.filter(name=LOOP_LEASE, owner=me).update(owner="")
        async_task(LOOP_TASK, task_name="sweeper loop")
    return sweeps


def on_worker_spawn(**kwargs) -> None:
    """django-q2's post_spawn: a (re)started worker makes sure a sweeper loop runs."""
    try:
        async_task(LOOP_TASK, task_name="sweeper loop")
    except Exception:
        logger.exception("could not enqueue a sweeper loop at worker start")


def ensure_sweeper() -> bool:
    """Start a sweeper loop if none holds a live lease; True if one was enqueued.

    Called when a retry is scheduled, since only the sweeper will wake that process.
    """
    alive = SweeperLease.objects.filter(name=LOOP_LEASE, lease_until__gte=clock.now()).exists()
    if not alive:
        async_task(LOOP_TASK, task_name="sweeper loop")
    return not alive


def revive_if_dead(after: float = 10.0) -> bool:
    """Start a sweeper loop if none has held the lease for `after` seconds; True if enqueued.

    The worker supervisors call it every few seconds: a loop that died with its successor
    unsent (the broker or the database was down at its hand-over) is back within seconds of
    their return, instead of waiting for the minutely schedule.
    """
    since = clock.now() - timedelta(seconds=after)
    if SweeperLease.objects.filter(name=LOOP_LEASE, lease_until__gte=since).exists():
        return False
    async_task(LOOP_TASK, task_name="sweeper loop")
    return True


def _loop_lease_seconds() -> float:
    return max(3.0, 4 * conf.get("SWEEP_INTERVAL"))


def _hold_loop_lease(me: str) -> bool:
    """Take or renew the loop's lease in one conditional UPDATE; False if a live loop has it."""
    now = clock.now()
    free = Q(owner=me) | Q(owner="") | Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    until = now + timedelta(seconds=_loop_lease_seconds())
    if SweeperLease.objects.filter(free, name=LOOP_LEASE).update(owner=me, lease_until=until) == 1:
        return True
    # The row is made by a migration, but a `flush` removes it: make it again, then retry.
    _, created = SweeperLease.objects.get_or_create(name=LOOP_LEASE)
    return created and _hold_loop_lease(me)


def _take_over_if_dead(me: str) -> bool:
    """Watch a held lease: True once we took it over from a holder that stopped renewing."""
    seen = SweeperLease.objects.filter(name=LOOP_LEASE).values_list("lease_until", flat=True).first()
    give_up_at = time.monotonic() + _loop_lease_seconds() + 1
    while time.monotonic() < give_up_at:
        time.sleep(min(0.5, conf.get("SWEEP_INTERVAL")))
        if _hold_loop_lease(me):
            return True
        now_held = SweeperLease.objects.filter(name=LOOP_LEASE).values_list("lease_until", flat=True).first()
        if now_held != seen:
            return False  # renewed: the holder is alive
    return False
