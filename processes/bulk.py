"""Bulk operations: one operator action over many processes, in the background, in batches.

A domain registers the actions it offers in bulk (`register`): each names the intervention it
runs on one process and the refusal check that intervention makes (processes.refusals), which
the preview (processes.bulk_preview) asks too. `bulk_start` freezes the processes as items and
enqueues `bulk_run`, a django-q2 task that works through the items `BULK_BATCH` at a time, one
transaction per batch: each item's outcome is written in the transaction (a savepoint per
process) that acts on its process, so a runner killed halfway loses its batch and the next run
does it again, and no process is acted on twice. Two runs at once share the work (SKIP LOCKED).
A cancel is seen between batches. The sweeper restarts an operation whose runner stopped
reporting for `BULK_STALE` seconds (`restart_stale`).
"""

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import F
from django_q.tasks import async_task

from processes import clock, conf
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.models.bulk import BulkItem, BulkOperation, BulkState, ItemOutcome
from processes.models.journal import ActorType

logger = logging.getLogger("processes.bulk")
RUN_TASK = "processes.tasks.run_bulk_operation"


@dataclass(frozen=True)
class BulkAction:
    """An action a domain offers in bulk. `act(process_id, actor=, reason=, arguments=)` runs the
    single action on one process and returns what changed, in words, or raises
    ProcessStateError with why it refuses; `refusal(process, now, arguments)` is the check it
    makes first (None when it would act); `undoes` whether it undoes the completed steps, for
    the preview to say what it gives back."""

    name: str
    label: str
    permission: str
    act: Callable[..., str]
    refusal: Callable
    undoes: bool = False


_actions: dict[tuple[str, str], BulkAction] = {}


def register(label: str, action: BulkAction) -> None:
    _actions[(label, action.name)] = action


def action_for(label: str, name: str) -> BulkAction:
    try:
        return _actions[(label, name)]
    except KeyError:
        choices = ", ".join(sorted(n for lbl, n in _actions if lbl == label)) or "none"
        raise ValueError(f"No bulk action {name!r} for {label}: the actions are {choices}.") from None


def actions(label: str) -> list[BulkAction]:
    return [action for (lbl, _), action in _actions.items() if lbl == label]


def bulk_start(
    *, label: str, action: str, process_ids, actor: Actor, reason: str, arguments=None, selection: str = ""
) -> BulkOperation:
    """Freeze the processes as the operation's items and enqueue its runner after commit. A
    process another unfinished operation holds is refused at once, naming that operation."""
    action_for(label, action)  # an unknown action is refused before anything is written
    if not reason.strip():
        raise ValueError("Give a reason: it is written to every order's journal.")
    ids = sorted(set(process_ids))
    with transaction.atomic():
        operation = BulkOperation.objects.create(
            process_type=label,
            action=action,
            arguments=arguments or {},
            reason=reason.strip(),
            requested_by=actor.name,
            selection=selection,
            total=len(ids),
            heartbeat_at=clock.now(),
        )
        # ON CONFLICT DO NOTHING on the one-active-operation index: waits for a concurrent
        # start to commit, then leaves out the processes it took.
        items = [BulkItem(operation=operation, process_id=pid) for pid in ids]
        BulkItem.objects.bulk_create(items, ignore_conflicts=True, batch_size=1000)
        _refuse_held_elsewhere(operation, ids)
        transaction.on_commit(lambda: enqueue(operation.pk), robust=True)
    logger.info("bulk operation %s: %s of %d %s by %s", operation.pk, action, len(ids), label, actor.name)
    return operation


def _refuse_held_elsewhere(operation: BulkOperation, ids: list) -> None:
    taken = set(operation.items.values_list("process_id", flat=True))
    others = [pid for pid in ids if pid not in taken]
    if not others:
        return
    holders = dict(
        BulkItem.objects.filter(process_id__in=others, active=True).values_list("process_id", "operation_id")
    )
    now = clock.now()
    BulkItem.objects.bulk_create(
        [
            BulkItem(
                operation=operation,
                process_id=pid,
                outcome=ItemOutcome.REFUSED,
                active=False,
                acted_at=now,
                message=f"skipped: bulk operation {holders.get(pid, 'another')} is acting on it",
            )
            for pid in others
        ],
        batch_size=1000,
    )
    BulkOperation.objects.filter(pk=operation.pk).update(refused=F("refused") + len(others))


def enqueue(operation_id: int) -> None:
    async_task(RUN_TASK, operation_id, task_name=f"bulk operation {operation_id}")


def bulk_cancel(*, operation_id: int, actor: Actor) -> BulkOperation:
    """Ask a running operation to stop: its runner stops between two batches; the processes it
    has not reached are left as they are."""
    with transaction.atomic():
        operation = BulkOperation.objects.select_for_update().get(pk=operation_id)
        if operation.state != BulkState.RUNNING:
            raise ProcessStateError(f"Bulk operation {operation.pk} is {operation.state}: nothing to cancel.")
        operation.state = BulkState.CANCELLING
        operation.summary = f"cancel asked by {actor.name}"
        operation.save(update_fields=["state", "summary"])
    logger.info("bulk operation %s: cancel asked by %s", operation_id, actor.name)
    return operation


def bulk_run(operation_id: int, *, max_batches: int | None = None) -> int:
    """The operation's task: act on its pending items a batch per transaction until none is
    left (or it is cancelled); returns the processes this run acted on. `max_batches` stops
    early, as a killed worker would between two batches."""
    acted = batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            operation = BulkOperation.objects.get(pk=operation_id)
            if operation.finished:
                return acted
            if operation.state == BulkState.CANCELLING:
                _finish(operation, BulkState.CANCELLED)
                return acted
            counts = _run_batch(operation)
        if not counts:
            return acted
        acted += sum(counts.values())
        batches += 1
    return acted


def _run_batch(operation: BulkOperation) -> Counter:
    pending = operation.items.filter(outcome=ItemOutcome.PENDING)
    batch = list(pending.select_for_update(skip_locked=True).order_by("id")[: conf.get("BULK_BATCH")])
    if not batch:
        if not pending.exists():
            _finish(operation, BulkState.DONE)
        return Counter()  # what is left is another run's, locked: that run finishes it
    action = action_for(operation.process_type, operation.action)
    actor = Actor(ActorType.OPERATOR, operation.requested_by)
    reason = f"bulk operation {operation.pk}: {operation.reason}"
    counts = Counter(_act(action, item, actor, reason, operation.arguments) for item in batch)
    BulkOperation.objects.filter(pk=operation.pk).update(
        done=F("done") + counts[ItemOutcome.DONE],
        refused=F("refused") + counts[ItemOutcome.REFUSED],
        failed=F("failed") + counts[ItemOutcome.FAILED],
        heartbeat_at=clock.now(),
    )
    return counts


def _act(action: BulkAction, item: BulkItem, actor: Actor, reason: str, arguments: dict) -> str:
    """Act on one process in a savepoint and write the item's outcome beside it."""
    try:
        with transaction.atomic():
            words = action.act(item.process_id, actor=actor, reason=reason, arguments=arguments)
    except ProcessStateError as refusal:
        item.outcome, item.message = ItemOutcome.REFUSED, str(refusal)
    except Exception as error:  # one process's failure must not stop the others
        logger.exception("bulk %s of %s failed", action.name, item.process_id)
        item.outcome, item.message = ItemOutcome.FAILED, f"{type(error).__name__}: {error}"
    else:
        item.outcome, item.message = ItemOutcome.DONE, words
    item.acted_at = clock.now()
    item.save(update_fields=["outcome", "message", "acted_at"])
    return item.outcome


def _finish(operation: BulkOperation, state: str) -> None:
    """End the operation once (two runs that find nothing left: one writes the summary)."""
    now = clock.now()
    cancelled = 0
    if state == BulkState.CANCELLED:  # the processes it did not reach are left as they are
        left = operation.items.filter(outcome=ItemOutcome.PENDING)
        cancelled = left.update(outcome=ItemOutcome.CANCELLED, acted_at=now)
    operation.items.filter(active=True).update(active=False)
    operation.refresh_from_db()
    summary = summary_words(operation, cancelled)
    marked = BulkOperation.objects.filter(pk=operation.pk, finished_at__isnull=True).update(
        state=state, finished_at=now, heartbeat_at=now, summary=summary
    )
    if marked:
        logger.info("bulk operation %s %s", operation.pk, summary)


def summary_words(operation: BulkOperation, cancelled: int = 0) -> str:
    """One line for the operation's end: what it did, by whom, why."""
    stopped = f", {cancelled} not reached (cancelled)" if cancelled else ""
    return (
        f"{operation.action} of {operation.total} by {operation.requested_by}: {operation.done} done, "
        f"{operation.refused} refused, {operation.failed} failed{stopped}. Reason: {operation.reason}"
    )


def restart_stale(now=None) -> int:
    """Enqueue again each unfinished operation whose runner has not reported for BULK_STALE
    seconds (its worker died); the heartbeat moves first, so one sweep restarts it once."""
    now = now or clock.now()
    stale = now - timedelta(seconds=conf.get("BULK_STALE"))
    dead = BulkOperation.objects.filter(finished_at__isnull=True, heartbeat_at__lt=stale)
    restarted = 0
    for pk in list(dead.values_list("pk", flat=True)):
        if BulkOperation.objects.filter(pk=pk, finished_at__isnull=True, heartbeat_at__lt=stale).update(
            heartbeat_at=now
        ):
            logger.warning("bulk operation %s stopped answering; starting it again", pk)
            enqueue(pk)
            restarted += 1
    return restarted
