"""Every timer of a pick task, its setting and who fires it: warn, escalate, take back, give up.

Who fires them: the sweeper wakes the order at its `next_run_at` and a worker runs
`processes.waiting.wake`, which fires each due timer through the pick step's `on_timer`
(fulfillment.steps.WaitForPick, calling `pick_timer_fire` here) or, at the final deadline,
gives up on the wait itself.

- warning (`WARNING`): `WAREHOUSE["WARNING_AFTER"]` (env `PICK_WARNING_AFTER`) after the task
  opened, flags it and emails the shift lead once. Here.
- escalation (`UNCLAIMED`): `WAREHOUSE["UNCLAIMED_AFTER"]` (env `PICK_UNCLAIMED_AFTER`) after the
  task opened, while nobody holds it, emails the shift lead and ADMINS once. Here.
- stale claim (`CLAIM_STALE`): `WAREHOUSE["CLAIM_TIMEOUT"]` (env `PICK_CLAIM_TIMEOUT`) after a
  claim, takes it back; its holder is told on their next visit. Here.
- final deadline: `settings.PICK_TIMEOUT` (env `PICK_TIMEOUT`) after the task opened, the pick
  step's `timeout`: the order needs an operator (its `on_timeout`), never a silent cancel, and a
  worker may still pick it late. The engine's own, in processes.waiting; not here.

The engine asks the pick step for its pending timers under the order's row lock (`pick_timers`)
and keeps the order's `next_run_at` at the earliest of them and the deadline, so the sweeper
finds the order from its index; no job is scheduled per task. Each timer here records on the
task that it fired (`warned_at`, `escalated_at`) or removes its own cause (a stale claim is
released), so it is never returned again and fires exactly once. Its email is written to the
outbox in the same transaction (processes.outbox) with a Message-ID fixed per task and timer, so
a relay that deduplicates drops a repeat. The thresholds are read in fulfillment.picking.conf.
"""

from datetime import datetime

from django.conf import settings

from fulfillment.models import Order, PickNotice, PickTask
from fulfillment.picking import conf
from processes import clock, journal, outbox
from processes.models.journal import EventKind
from processes.workflow import PersonTask

WARNING, UNCLAIMED, CLAIM_STALE = "warning", "unclaimed", "claim_stale"
# What each timer does, in the waiting sentence (processes.waiting_reason).
PICK_TIMER_TITLES = {
    WARNING: "the shift lead is warned",
    UNCLAIMED: "the shift lead and the operators are told nobody claimed it",
    CLAIM_STALE: "the claim is taken back",
}


def pick_timers(*, order: Order) -> dict[str, datetime]:
    """The timers still to fire for the order's open pick task (call under the order's lock)."""
    task = PickTask.objects.filter(order=order, status__in=PickTask.OPEN_STATUSES).first()
    return {} if task is None else _timers_of(task)


def pick_task_for_waiting(*, order: Order) -> PersonTask | None:
    """The open pick task for the waiting sentence, from the task loaded with the order (a page
    selects `pick_task__assignee` with its orders: no query per row)."""
    try:
        task = order.pick_task
    except PickTask.DoesNotExist:
        return None
    if task.status not in PickTask.OPEN_STATUSES:
        return None
    holder = task.assignee.get_username() if task.assignee_id else ""
    return PersonTask(task.created_at, holder, task.claimed_at, _timers_of(task))


def _timers_of(task: PickTask) -> dict[str, datetime]:
    timers = {}
    if task.warned_at is None:
        timers[WARNING] = task.created_at + conf.seconds("WARNING_AFTER")
    if task.status == PickTask.Status.OPEN and task.escalated_at is None:
        timers[UNCLAIMED] = task.created_at + conf.seconds("UNCLAIMED_AFTER")
    if task.status == PickTask.Status.CLAIMED:
        timers[CLAIM_STALE] = task.claimed_at + conf.seconds("CLAIM_TIMEOUT")
    return timers


def pick_timer_fire(*, order: Order, name: str) -> None:
    """Handle a due timer under the order's lock; a timer that no longer applies does nothing."""
    task = PickTask.objects.select_for_update().get(order=order)
    due = pick_timers(order=order).get(name)
    if due is None or due > clock.now():
        return
    {WARNING: _warn, UNCLAIMED: _escalate, CLAIM_STALE: _take_back}[name](order, task)


def _warn(order: Order, task: PickTask) -> None:
    task.warned_at = clock.now()
    task.save(update_fields=["warned_at"])
    left = _minutes(task.due_at - task.warned_at)
    _mail(
        order,
        task,
        WARNING,
        subject=f"Pick close to late: order {order.pk} ({left} min left)",
        body=f"{_describe(order, task)}\n\nIt must be picked within {left} minutes.",
        to=[conf.get("SHIFT_LEAD_EMAIL")],
    )


def _escalate(order: Order, task: PickTask) -> None:
    task.escalated_at = clock.now()
    task.save(update_fields=["escalated_at"])
    waited = _minutes(task.escalated_at - task.created_at)
    _mail(
        order,
        task,
        UNCLAIMED,
        subject=f"Pick unclaimed for {waited} min: order {order.pk}",
        body=f"{_describe(order, task)}\n\nNobody has claimed it for {waited} minutes.",
        to=[conf.get("SHIFT_LEAD_EMAIL"), *(address for _, address in settings.ADMINS)],
    )


def _take_back(order: Order, task: PickTask) -> None:
    """Release a claim held too long; its holder is told on their next visit."""
    holder, held = task.assignee, _minutes(clock.now() - task.claimed_at)
    task.status, task.assignee, task.claimed_at = PickTask.Status.OPEN, None, None
    task.save(update_fields=["status", "assignee", "claimed_at"])
    PickNotice.objects.create(
        user=holder,
        pick_task=task,
        text=(
            f"Your claim on order {str(order.pk)[:8]} was released after {held} min without a "
            "confirmation. It is back in the list for anyone to pick."
        ),
    )
    journal.note(order, EventKind.NOTE, f"claim of {holder.get_username()} released after {held} min")


def _describe(order: Order, task: PickTask) -> str:
    return (
        f"Order {order.pk} in {task.warehouse.name}: pick task opened {task.created_at:%Y-%m-%d %H:%M} UTC, "
        f"due {task.due_at:%Y-%m-%d %H:%M} UTC, {task.get_status_display().lower()}."
    )


def _mail(order: Order, task: PickTask, kind: str, *, subject: str, body: str, to: list[str]) -> None:
    """Into the outbox, in the timer's transaction: it goes out after commit, retried until sent."""
    key = f"pick-{kind}-{task.pk}"
    outbox.enqueue(
        key=key,
        kind=f"pick_{kind}",
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=to,
        headers={"Message-ID": f"<{key}@fulfillment.localhost>"},
        process=order,
    )


def _minutes(delta) -> int:
    return max(0, round(delta.total_seconds() / 60))
