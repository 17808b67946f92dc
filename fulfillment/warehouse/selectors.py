"""What the warehouse pages read: a worker's tasks, one task with its lines, bins and label.

Every query starts from the warehouses the worker is assigned to, so a task of another
warehouse is simply not found (the pages answer 404).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from fulfillment.models import OrderLine, PickTask, Shipment, Stock, WarehouseAssignment
from fulfillment.picking import conf


@dataclass(frozen=True)
class Sla:
    """How a task stands against its deadline, for a badge: level is late, soon or ok."""

    level: str
    text: str


@dataclass(frozen=True)
class PickLine:
    """One line to pick, with where to find it."""

    number: int
    line: OrderLine
    bin_location: str


def pick_tasks_visible_to(*, worker) -> QuerySet[PickTask]:
    warehouses = WarehouseAssignment.objects.filter(user=worker).values("warehouse_id")
    return PickTask.objects.filter(warehouse_id__in=warehouses)


def pick_task_list(*, worker) -> QuerySet[PickTask]:
    """Open tasks of the worker's warehouses and the ones they hold, soonest due first."""
    mine_or_free = Q(status=PickTask.Status.OPEN) | Q(status=PickTask.Status.CLAIMED, assignee=worker)
    return (
        pick_tasks_visible_to(worker=worker)
        .filter(mine_or_free)
        .select_related("order", "warehouse")
        .annotate(items=Sum("order__lines__quantity"), line_count=Count("order__lines"))
        .order_by("due_at", "pk")
    )


def pick_task_get(*, worker, task_id: int) -> PickTask:
    """The task if it belongs to one of the worker's warehouses; Http404 otherwise."""
    queryset = pick_tasks_visible_to(worker=worker).select_related(
        "order", "warehouse", "assignee", "problem_reported_by"
    )
    return get_object_or_404(queryset, pk=task_id)


def pick_task_lines(*, task: PickTask) -> list[PickLine]:
    """The order's lines in order, each with its bin location in the task's warehouse."""
    lines = list(task.order.lines.select_related("product"))
    bins = dict(
        Stock.objects.filter(
            warehouse_id=task.warehouse_id, product_id__in=[li.product_id for li in lines]
        ).values_list("product_id", "bin_location")
    )
    return [PickLine(n, line, bins.get(line.product_id) or "—") for n, line in enumerate(lines, start=1)]


def pick_task_shipment(*, task: PickTask) -> Shipment | None:
    """The live shipping label of the task's order."""
    return Shipment.objects.filter(order_id=task.order_id, voided_at__isnull=True).first()


def pick_task_sla(task: PickTask, now: datetime) -> Sla:
    left = task.due_at - now
    if left <= timedelta(0):
        return Sla("late", f"Late by {duration_text(-left)}")
    soon = task.warned_at is not None or now >= task.created_at + conf.seconds("WARNING_AFTER")
    return Sla("soon" if soon else "ok", f"Due in {duration_text(left)}")


def duration_text(delta: timedelta) -> str:
    """'45 min', '2 h 05 min': what a worker reads at a glance."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
