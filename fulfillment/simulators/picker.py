"""The simulated picker: a tireless warehouse worker for `make run`, the soaks, the benchmarks
and the tests. It picks through the same services as the warehouse pages (fulfillment.picking.tasks),
as the account `simulated-picker`, which cannot sign in."""

import contextlib
from datetime import timedelta

from django.contrib.auth import get_user_model

from fulfillment.errors import PickRefused
from fulfillment.models import OrderLine, PickTask
from fulfillment.picking.tasks import PickedLine, pick_task_claim, pick_task_confirm, pick_task_release
from processes import clock

SIMULATED_PICKER = "simulated-picker"


def simulated_picker_run(*, delay: float) -> int:
    """Claim and confirm every open pick task older than `delay` seconds, as a tireless
    worker would, through the same services as the warehouse pages. Tasks it claimed before
    without confirming them (the database went away between the two) it confirms first, as a
    worker back on the network would. A task a worker reported a problem on waits for an
    operator: the picker leaves it alone (and the services would refuse it anyway)."""
    cutoff = clock.now() - timedelta(seconds=delay)
    picker = simulated_picker_user()
    claimed = list(
        PickTask.objects.filter(status=PickTask.Status.CLAIMED, assignee=picker).values_list("pk", flat=True)
    )
    task_ids = list(
        PickTask.objects.filter(status=PickTask.Status.OPEN, created_at__lte=cutoff)
        .without_open_problem()
        .order_by("due_at")
        .values_list("pk", flat=True)[:200]
    )
    done = 0
    for task_id in [*claimed, *task_ids]:
        try:
            if task_id not in claimed:
                pick_task_claim(task_id=task_id, worker=picker)
        except PickRefused:
            continue  # a person took it, reported a problem on it, or it was cancelled meanwhile
        try:
            pick_task_confirm(task_id=task_id, worker=picker, picked=exact_pick(task_id))
            done += 1
        except PickRefused:
            _give_back(task_id, picker)
    return done


def _give_back(task_id: int, picker) -> None:
    """Release a claim the picker could not confirm; a task done or cancelled meanwhile (by
    a person, a timer or a compensation) has nothing to give back."""
    with contextlib.suppress(PickRefused):
        pick_task_release(task_id=task_id, worker=picker)


def simulated_picker_user():
    """The account the simulated picker claims tasks as; it cannot sign in."""
    user, created = get_user_model().objects.get_or_create(username=SIMULATED_PICKER)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def exact_pick(task_id: int) -> dict[int, PickedLine]:
    """What a perfect picker scans: every line's SKU and quantity, read in one query."""
    lines = OrderLine.objects.filter(order__pick_task__pk=task_id).values_list("pk", "sku", "quantity")
    return {pk: PickedLine(sku, quantity) for pk, sku, quantity in lines}
