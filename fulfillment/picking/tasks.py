"""Pick tasks (the PickTask rows): opened by the workflow, claimed and confirmed by a worker.

The warehouse pages and the simulated picker call the same services. Every change takes the
order's row lock first, then the pick task's (the one lock order of the project), so a claim,
a release, a confirmation and the engine's timers (fulfillment.picking.timers) never interleave.

A problem a worker reports holds the task for an operator: nobody may claim or confirm it
until the operator resolves the order's attention (the task is open to pickers again, with a
fresh deadline), does the pick by hand or cancels the order. The next picker to come along,
person or simulator, never overrides the report.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction

from fulfillment.errors import (
    PickMismatch,
    PickTaskClosed,
    PickTaskHeldForOperator,
    PickTaskNotHeld,
    PickTaskTaken,
)
from fulfillment.models import Order, PickNotice, PickProblem, PickTask
from processes import clock, journal
from processes.control import process_rearm, process_signal, process_wait_failed
from processes.journal import Actor
from processes.models.journal import ActorType, EventKind
from processes.models.process import Direction, RunStatus

PICK_STEP = "pick"
# What a worker's problem report writes on the task (and a new report reopens).
PROBLEM_FIELDS = (
    "problem",
    "problem_note",
    "problem_reported_at",
    "problem_reported_by",
    "problem_resolved_at",
)


@dataclass(frozen=True)
class PickedLine:
    """What the worker scanned (or typed) and counted for one order line."""

    sku: str
    quantity: int


def worker_actor(worker) -> Actor:
    return Actor(ActorType.WORKER, worker.get_username())


# Called by the order workflow's pick step, under the order's row lock.


def pick_task_open(*, order: Order, due_in: timedelta) -> PickTask:
    """Open the order's pick task; a task withdrawn while its label was made again (cancelled
    before anyone claimed it) opens afresh, with a new due time and its timers to fire again."""
    task = PickTask.objects.filter(order=order).first()
    due_at = clock.now() + due_in
    if task is None:
        task = PickTask.objects.create(order=order, warehouse_id=order.warehouse_id, due_at=due_at)
    elif task.status == PickTask.Status.CANCELLED and task.done_at is None:
        task.status, task.due_at, task.created_at = PickTask.Status.OPEN, due_at, clock.now()
        task.warned_at = task.escalated_at = None
        task.save(update_fields=["status", "due_at", "created_at", "warned_at", "escalated_at"])
    return task


def pick_task_withdraw_refusal(*, order: Order) -> str:
    """Why the order's pick task may not be withdrawn now ('' when it may): once a worker has
    claimed it, or reported a problem on it, the pick has begun and the order stays as it is."""
    task = PickTask.objects.filter(order=order).select_related("assignee").first()
    if task is None or task.status == PickTask.Status.OPEN and not task.has_open_problem:
        return ""
    if task.status == PickTask.Status.CLAIMED:
        return f"{task.assignee.get_username()} claimed its pick task at {clock.written(task.claimed_at)}"
    if task.has_open_problem:
        return "a worker reported a problem on its pick task"
    return f"its pick task is {task.get_status_display().lower()}"


def pick_task_cancel(*, order: Order) -> int:
    return PickTask.objects.filter(order=order, status__in=PickTask.OPEN_STATUSES).update(
        status=PickTask.Status.CANCELLED
    )


def pick_task_mark_done(*, order: Order, worker_id: int | None) -> PickTask:
    """Close the task for the worker's confirmation (or an operator's, with no worker: an
    operator who picks by hand settles a reported problem, a worker cannot)."""
    task = PickTask.objects.select_for_update().get(order=order)
    if task.status not in PickTask.OPEN_STATUSES:
        raise PickTaskClosed(f"The pick task of order {order.pk} is {task.status}, not open.")
    if worker_id and task.status == PickTask.Status.CLAIMED and task.assignee_id != worker_id:
        raise PickTaskTaken("Another worker holds this task.")
    if worker_id:
        _check_no_open_problem(task)
    task.status = PickTask.Status.DONE
    task.done_at = clock.now()
    if task.has_open_problem:
        task.problem_resolved_at = task.done_at
    if worker_id and task.assignee_id is None:
        task.assignee_id = worker_id
    task.save()
    return task


def pick_task_problem_resolve(*, order: Order) -> PickTask | None:
    """An operator resolved the order's attention while it waits for its pick: a problem
    reported on the task is settled, and the task is open to every picker again."""
    task = PickTask.objects.select_for_update().filter(order=order, status__in=PickTask.OPEN_STATUSES).first()
    if task is None or not task.has_open_problem:
        return task
    task.problem_resolved_at = clock.now()
    task.save(update_fields=["problem_resolved_at"])
    reporter = task.problem_reported_by.get_username() if task.problem_reported_by else "a worker"
    settled = f"{task.get_problem_display()} reported by {reporter} settled"
    journal.note(order, EventKind.NOTE, f"{settled}: the pick task is open to pickers again")
    return task


# A worker's actions: the warehouse pages and the simulated picker call these.


def pick_task_claim(*, task_id: int, worker) -> PickTask:
    """Give the open task to `worker` alone; claiming a task one already holds changes nothing."""
    with transaction.atomic(), journal.acting(worker_actor(worker), "claimed", step=PICK_STEP):
        order, task = _lock(task_id)
        if task.is_held_by(worker):
            return task
        if task.status == PickTask.Status.CLAIMED:
            raise PickTaskTaken(f"Someone else has this task: {task.assignee.get_username()} claimed it.")
        _check_waiting(order, task)
        _check_no_open_problem(task)
        task.status, task.assignee, task.claimed_at = PickTask.Status.CLAIMED, worker, clock.now()
        task.save(update_fields=["status", "assignee", "claimed_at"])
        journal.note(order, EventKind.NOTE, f"pick claimed by {worker.get_username()}")
        _rearm(order)
        return task


def pick_task_release(*, task_id: int, worker) -> PickTask:
    """The holder gives the task back to the pool."""
    with transaction.atomic(), journal.acting(worker_actor(worker), "released", step=PICK_STEP):
        order, task = _lock(task_id)
        _check_holder(task, worker, "release")
        _unclaim(task)
        journal.note(order, EventKind.NOTE, f"pick released by {worker.get_username()}")
        _rearm(order)
        return task


def pick_task_confirm(*, task_id: int, worker, picked: dict[int, PickedLine]) -> Order:
    """The holder confirms every line; the order resumes right after commit.

    Raises PickMismatch naming each wrong line (nothing changes) when a SKU or a quantity
    differs from the order.
    """
    with transaction.atomic():
        order, task = _lock(task_id)
        _check_holder(task, worker, "confirm")
        _check_waiting(order, task)
        _check_no_open_problem(task)
        _check_picked(order, picked)
        name = worker.get_username()
        return process_signal(
            model=Order,
            process_id=order.pk,
            step=PICK_STEP,
            payload={"worker_id": worker.pk},
            actor=worker_actor(worker),
            reason=f"picked by {name}",
        )


def pick_task_report_problem(*, task_id: int, worker, problem: str, note: str) -> Order:
    """The holder cannot pick: record why, release their claim and follow the pick step's
    `on_problem` (compensation, or needs-attention for an operator), journalled with the
    worker's name. The task stays held for the operator until they decide."""
    problem = PickProblem(problem)
    with transaction.atomic():
        order, task = _lock(task_id)
        _check_holder(task, worker, "report a problem on")
        _check_waiting(order, task)
        task.problem, task.problem_note = problem, note
        task.problem_reported_at, task.problem_reported_by = clock.now(), worker
        task.problem_resolved_at = None
        _unclaim(task, extra=PROBLEM_FIELDS)
        return process_wait_failed(
            model=Order,
            process_id=order.pk,
            step=PICK_STEP,
            actor=worker_actor(worker),
            reason=f"{problem.label} reported by {worker.get_username()}: {note}",
        )


def pick_notices_take(*, worker) -> list[PickNotice]:
    """What the worker has not been told yet (a claim taken back), marked as told now."""
    with transaction.atomic():
        notices = list(PickNotice.objects.select_for_update().filter(user=worker, seen_at__isnull=True))
        PickNotice.objects.filter(pk__in=[notice.pk for notice in notices]).update(seen_at=clock.now())
    return notices


def _lock(task_id: int) -> tuple[Order, PickTask]:
    """Lock the task's order, then the task: always in this order. The order is found through
    its task in the statement that locks it (`FOR UPDATE OF` the order's row alone)."""
    order = Order.objects.select_for_update(of=("self",)).get(pick_task__pk=task_id)
    task = PickTask.objects.select_for_update().get(pk=task_id)
    return order, task


def _check_waiting(order: Order, task: PickTask) -> None:
    waiting = order.run_status == RunStatus.WAITING and order.step == PICK_STEP
    if task.status not in PickTask.OPEN_STATUSES or not waiting or order.direction != Direction.FORWARD:
        raise PickTaskClosed("This task is no longer open: it was done or cancelled.")


def _check_no_open_problem(task: PickTask) -> None:
    if task.has_open_problem:
        raise PickTaskHeldForOperator(problem_hold_text(task))


def problem_hold_text(task: PickTask) -> str:
    """Why nobody may pick the task now, for the worker on the floor."""
    by = task.problem_reported_by.get_username() if task.problem_reported_by else "a worker"
    return (
        f"{task.get_problem_display()} was reported on this task by {by}: it is held for an operator, "
        "who decides what happens next. Nobody can claim or confirm it until then."
    )


def _check_holder(task: PickTask, worker, action: str) -> None:
    if task.is_held_by(worker):
        return
    if task.status == PickTask.Status.CLAIMED:
        holder = task.assignee.get_username()
        raise PickTaskNotHeld(f"Only {holder}, who claimed this task, can {action} it.")
    if task.status == PickTask.Status.OPEN:
        raise PickTaskNotHeld(f"Claim this task before you {action} it.")
    raise PickTaskClosed("This task is no longer open: it was done or cancelled.")


def _check_picked(order: Order, picked: dict[int, PickedLine]) -> None:
    errors = {}
    for number, line in enumerate(order.lines.all(), start=1):
        got = picked.get(line.pk)
        if got is None or not got.sku.strip():
            errors[line.pk] = f"Line {number}: scan or type the SKU {line.sku}."
        elif got.sku.strip().upper() != line.sku.upper():
            errors[line.pk] = f"Line {number}: SKU {got.sku.strip()} is not {line.sku}. Check the bin."
        elif got.quantity != line.quantity:
            errors[line.pk] = f"Line {number} ({line.sku}): {got.quantity} counted, {line.quantity} ordered."
    if errors:
        raise PickMismatch(errors)


def _unclaim(task: PickTask, extra: tuple[str, ...] = ()) -> None:
    task.status, task.assignee, task.claimed_at = PickTask.Status.OPEN, None, None
    task.save(update_fields=["status", "assignee", "claimed_at", *extra])


def _rearm(order: Order) -> None:
    """Let the order's next wake-up follow the task's timers (the claim's own, or not)."""
    process_rearm(process=order)
    order.save(update_fields=["next_run_at"])
