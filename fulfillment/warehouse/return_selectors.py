"""What the warehouse's return pages read: open inspections, one return with its lines, and
the return label a scanned parcel carries.

As for pick tasks (fulfillment.warehouse.selectors), every query starts from the warehouses the
worker is assigned to: a return of another warehouse is simply not found (404), and its
parcel's tracking number is unknown here.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, QuerySet, Sum
from django.shortcuts import get_object_or_404

from fulfillment.models import InspectionTask, Return, ReturnLabel, ReturnLine, WarehouseAssignment
from fulfillment.warehouse.selectors import Sla, duration_text


def _warehouses(worker):
    return WarehouseAssignment.objects.filter(user=worker).values("warehouse_id")


def inspection_task_list(*, worker) -> QuerySet[InspectionTask]:
    """Open inspections of the worker's warehouses, the longest waiting first."""
    return (
        InspectionTask.objects.filter(warehouse_id__in=_warehouses(worker), status=InspectionTask.Status.OPEN)
        .select_related("ret", "warehouse")
        .annotate(items=Sum("ret__lines__quantity"), line_count=Count("ret__lines"))
        .order_by("opened_at", "pk")
    )


def visible_returns(*, worker) -> QuerySet[Return]:
    """Returns of orders shipped from the worker's warehouses."""
    return Return.objects.filter(order__warehouse_id__in=_warehouses(worker))


def return_for_inspection_get(*, worker, return_id) -> Return:
    """The return if its order ships from one of the worker's warehouses; Http404 otherwise."""
    return get_object_or_404(visible_returns(worker=worker).select_related("order"), pk=return_id)


def inspection_task_of(ret: Return) -> InspectionTask | None:
    """The return's inspection task, once its parcel arrived and the task was opened."""
    return InspectionTask.objects.select_related("done_by").filter(ret=ret).first()


def return_lines(*, ret: Return) -> list[ReturnLine]:
    """The return's lines in order, with their products' names."""
    return list(ret.lines.select_related("order_line__product"))


def return_label_find(*, worker, tracking_number: str) -> ReturnLabel | None:
    """The return label with this tracking number (in any letter case) on a return of the
    worker's warehouses, live or voided; None when there is none."""
    labels = ReturnLabel.objects.filter(
        tracking_number__iexact=tracking_number, ret__order__warehouse_id__in=_warehouses(worker)
    )
    return labels.select_related("ret").order_by(F("voided_at").asc(nulls_first=True)).first()


def inspection_sla(task: InspectionTask, now: datetime) -> Sla:
    """How an open inspection stands against RETURN_INSPECTION_TIMEOUT, after which an
    operator is asked: late once past it, soon in its last quarter."""
    allowed = timedelta(seconds=settings.RETURN_INSPECTION_TIMEOUT)
    left = task.opened_at + allowed - now
    if left <= timedelta(0):
        return Sla("late", f"Late by {duration_text(-left)}")
    return Sla("soon" if left <= allowed / 4 else "ok", f"Due in {duration_text(left)}")
