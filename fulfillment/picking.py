"""Pick tasks: opened by the workflow, done by a warehouse worker (or the simulated picker)."""

from datetime import timedelta

from fulfillment.models import Order, PickTask
from processes import clock
from processes.control import process_signal
from processes.exceptions import ProcessStateError
from processes.journal import Actor

PICK_STEP = "pick"


def pick_task_open(*, order: Order, due_in: timedelta) -> PickTask:
    task, _ = PickTask.objects.get_or_create(
        order=order, defaults={"warehouse_id": order.warehouse_id, "due_at": clock.now() + due_in}
    )
    return task


def pick_task_cancel(*, order: Order) -> int:
    return PickTask.objects.filter(order=order, status__in=PickTask.OPEN_STATUSES).update(
        status=PickTask.Status.CANCELLED
    )


def pick_task_mark_done(*, order: Order, worker_id: int | None) -> PickTask:
    """Called under the order's lock by the pick step when the worker's answer arrives."""
    task = PickTask.objects.select_for_update().get(order=order)
    if task.status not in PickTask.OPEN_STATUSES:
        raise ProcessStateError(f"The pick task of order {order.pk} is {task.status}, not open.")
    task.status = PickTask.Status.DONE
    task.done_at = clock.now()
    if worker_id and task.assignee_id is None:
        task.assignee_id = worker_id
    task.save()
    return task


def pick_task_complete(*, order_id, actor: Actor, worker_id: int | None = None) -> Order:
    """A worker confirms the pick: the order's process resumes right after commit."""
    return process_signal(
        model=Order,
        process_id=order_id,
        step=PICK_STEP,
        payload={"worker_id": worker_id},
        actor=actor,
        reason=f"picked by {actor.name}",
    )


def simulated_picker_run(*, delay: float) -> int:
    """Confirm every open pick task older than `delay` seconds, as a tireless worker would."""
    cutoff = clock.now() - timedelta(seconds=delay)
    order_ids = list(
        PickTask.objects.filter(status=PickTask.Status.OPEN, created_at__lte=cutoff).values_list(
            "order_id", flat=True
        )[:200]
    )
    done = 0
    for order_id in order_ids:
        try:
            pick_task_complete(order_id=order_id, actor=Actor("worker", "simulated-picker"))
            done += 1
        except ProcessStateError:
            continue  # cancelled or handled meanwhile
    return done
