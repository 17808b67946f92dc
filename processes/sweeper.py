"""Find processes the queue forgot and wake them: the database is the source of truth.

One sweep looks, per workflow, at rows whose `next_run_at` has passed (a due step or retry, an
expired lease, a wait past its deadline) and whose wake-up is missing or looks lost, using the
partial index on `next_run_at`. Rows are taken with SKIP LOCKED, so sweepers on several machines
share the work instead of doubling it. Each sweep also delivers the outbox's due emails
(processes.outbox) and restarts bulk operations whose task died (processes.bulk).

Who sweeps: one sweeper at a time across all machines, the holder of the `SweeperLease` row,
which it renews on every sweep (every SWEEP_INTERVAL). Two kinds of holder take it:
- the sweeper process (processes.sweeper_process) that every `run_workers` supervisor forks
  beside its cluster and forks again when it dies (`manage.py run_sweeper` runs one by hand), so that all the
  cluster's workers run steps. Its owner name starts with PROCESS_OWNER. The other machines'
  sweeper processes wait, and take the lease once it runs out;
- the fallback for a bare `qcluster` (nobody runs `run_workers`): a django-q2 task that sweeps
  for SWEEPER_RUN_SECONDS, holding a worker meanwhile, then hands over to its successor. Spares
  come from worker start-up, the minutely schedule of `setup_schedules` and `ensure_sweeper`.
  A loop task gives way at once to a sweeper process holding a live lease, and a sweeper
  process takes the lease from a loop task, so under `run_workers` no worker is held.
"""

import logging
import os
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
# The lease owner names of sweeper processes start with this; loop tasks' never do.
PROCESS_OWNER = "sweeper-process:"
# Set by `run_workers` in its cluster's environment: a sweeper process runs beside the cluster,
# so its workers do not enqueue loop tasks as they start.
BESIDE_A_SWEEPER_PROCESS = "PROCESSES_SWEEPER_PROCESS"


def due_queryset(model, now):
    stale = now - timedelta(seconds=conf.get("REDELIVER_AFTER"))
    return model.objects.filter(next_run_at__lte=now).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=F("next_run_at")) | Q(enqueued_at__lt=stale)
    )


def sweep_once(*, beat=None) -> int:
    """Send wake-ups for every process that is due and not (or no longer) in the queue, and
    the outbox's due emails (those whose delivery after commit failed or never ran); restart
    bulk operations whose task died; returns the processes woken. `beat` is the sweeper
    process's sign of life, given between emails (processes.outbox.deliver_due)."""
    sweep.tick()
    woken = sum(_sweep(registry.model_class(label)) for label in registry.labels())
    outbox.deliver_due(beat=beat)
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
    """Sweep every SWEEP_INTERVAL for a while if no other sweeper runs, then hand over.

    The fallback for a bare `qcluster`: this task holds a worker while it loops. It ends at
    once when a sweeper process (run_workers) holds a live lease, and as soon as one takes the
    lease from it. A loop that finds the lease held by another loop watches it for a moment:
    a live holder renews it and the spare loop ends; a dead holder's lease runs out and the
    spare loop takes over. Spare loops come from worker start-up, the minutely schedule and
    `ensure_sweeper` when a retry is scheduled.
    """
    run_seconds = run_seconds or conf.get("SWEEPER_RUN_SECONDS")
    me = worker_name()
    if not _hold_loop_lease(me) and (process_holds_lease() or not _take_over_if_dead(me)):
        return 0
    sweeps, stop_at = 0, time.monotonic() + run_seconds
    try:
        while time.monotonic() < stop_at and _hold_loop_lease(me):
            sweep_once()
            sweeps += 1
            time.sleep(conf.get("SWEEP_INTERVAL"))
    finally:
        # Free, but its time stays: "alive until then" for /readyz.
        release_lease(me)
        if not process_holds_lease():  # a sweeper process took over: no successor needed
            async_task(LOOP_TASK, task_name="sweeper loop")
    return sweeps


def on_worker_spawn(**kwargs) -> None:
    """django-q2's post_spawn: a (re)started worker of a bare qcluster makes sure a sweeper
    loop runs; under `run_workers` the sweeper process beside the cluster does."""
    if os.environ.get(BESIDE_A_SWEEPER_PROCESS):
        return
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


def _loop_lease_seconds() -> float:
    return max(3.0, 4 * conf.get("SWEEP_INTERVAL"))


def _hold_loop_lease(me: str) -> bool:
    """Take or renew the loop's lease in one conditional UPDATE; False if a live sweeper has it.

    A sweeper process (its name starts with PROCESS_OWNER) also takes it from a loop task, so
    that a task taken up while the process could not renew (a database blink) frees its worker.
    """
    now = clock.now()
    free = Q(owner=me) | Q(owner="") | Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    if me.startswith(PROCESS_OWNER):
        free |= ~Q(owner__startswith=PROCESS_OWNER)
    until = now + timedelta(seconds=_loop_lease_seconds())
    if SweeperLease.objects.filter(free, name=LOOP_LEASE).update(owner=me, lease_until=until) == 1:
        return True
    # The row is made by a migration, but a `flush` removes it: make it again, then retry.
    _, created = SweeperLease.objects.get_or_create(name=LOOP_LEASE)
    return created and _hold_loop_lease(me)


def hold_lease_as_process(me: str) -> bool:
    """Take or renew the lease for the sweeper process named `me` (PROCESS_OWNER + a worker
    name); False while another sweeper process holds it."""
    if not me.startswith(PROCESS_OWNER):
        raise ValueError(f"a sweeper process's name starts with {PROCESS_OWNER!r}, not {me!r}")
    return _hold_loop_lease(me)


def release_lease(me: str) -> None:
    """Free the lease if `me` holds it; its time stays, "alive until then" for /readyz."""
    SweeperLease.objects.filter(name=LOOP_LEASE, owner=me).update(owner="")


def process_holds_lease() -> bool:
    """Is the lease held, and not run out, by a sweeper process (run_workers)?"""
    return SweeperLease.objects.filter(
        name=LOOP_LEASE, owner__startswith=PROCESS_OWNER, lease_until__gte=clock.now()
    ).exists()


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
