"""The warehouse's return pages: inspect a return line by line, scan a return parcel in.

Thin, like the pick pages: each view finds the return among the worker's warehouses (404 for
any other), calls one return service, and shows what happened. A refusal changes nothing and
is said in words on the page.
"""

import uuid

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from fulfillment.errors import InvalidReturn, ReturnNotAllowed
from fulfillment.models import InspectionTask, Return, ReturnState
from fulfillment.returns.inspection import inspection_complete
from fulfillment.returns.parcels import return_parcel_received
from fulfillment.warehouse import return_selectors as selectors
from fulfillment.warehouse.access import worker_required
from fulfillment.warehouse.return_forms import InspectionForm, ParcelScanForm
from processes.journal import Actor
from processes.models.journal import ActorType


def worker_actor(worker) -> Actor:
    return Actor(ActorType.WORKER, worker.get_username())


@require_http_methods(["GET", "POST"])
@worker_required
def inspection(request, return_id):
    ret = selectors.return_for_inspection_get(worker=request.user, return_id=return_id)
    task = selectors.inspection_task_of(ret)
    lines = selectors.return_lines(ret=ret)
    is_open = task is not None and task.status == InspectionTask.Status.OPEN
    form = InspectionForm(request.POST or None, lines=lines) if is_open else None
    if request.method == "POST":
        return _inspect(request, ret, task, lines, form)
    return _render(request, ret, task, lines, form)


@require_http_methods(["GET", "POST"])
@worker_required
def parcel_scan(request):
    form = ParcelScanForm(request.POST or None)
    if request.method != "POST":
        return _render_scan(request, form, _received_return(request))
    if not form.is_valid():
        return _render_scan(request, form, None, status=400)
    scanned = form.cleaned_data["tracking_number"]
    label = selectors.return_label_find(worker=request.user, tracking_number=scanned)
    if label is None:
        form.add_error(
            "tracking_number", f"No return of your warehouse has tracking number {scanned}. {ASIDE}"
        )
        return _render_scan(request, form, None, status=400)
    if label.received_at is not None:
        messages.info(request, _received_before(label))
        return redirect(_scanned_url(label.ret_id))
    try:
        ret = return_parcel_received(tracking_number=label.tracking_number, actor=worker_actor(request.user))
    except ReturnNotAllowed:
        form.add_error("tracking_number", _no_longer_waiting(label))
        return _render_scan(request, form, None, status=409)
    messages.success(
        request, f"Parcel {label.tracking_number} received: return {short_id(ret)} goes to inspection."
    )
    return redirect(_scanned_url(ret.pk))


ASIDE = "Put the parcel aside for an operator."


def _inspect(request, ret, task, lines, form):
    """Save the worker's verdicts, or say why nothing was saved."""
    if form is None:
        messages.error(request, _not_judged(ret, task))
        return redirect("warehouse:inspection", return_id=ret.pk)
    if not form.is_valid():
        return _render(request, ret, task, lines, form, status=400)
    actor = worker_actor(request.user)
    try:
        inspection_complete(ret=ret, verdicts=form.verdicts(), actor=actor, worker_id=request.user.pk)
    except InvalidReturn as wrong:
        form.add_error(None, f"Nothing was saved: {wrong}")
        return _render(request, ret, task, lines, form, status=400)
    except ReturnNotAllowed:
        ret.refresh_from_db()
        messages.error(request, _not_judged(ret, selectors.inspection_task_of(ret)))
        return redirect("warehouse:inspection", return_id=ret.pk)
    messages.success(request, _judged(ret, form))
    return redirect("warehouse:inspection", return_id=ret.pk)


def short_id(ret) -> str:
    """The return's id as the pages show it, like an order's: its first 8 characters."""
    return str(getattr(ret, "pk", ret))[:8].upper()


def _no_longer_waiting(label) -> str:
    ret = label.ret
    ret.refresh_from_db()
    if ret.state == ReturnState.AWAITING_PARCEL:  # a worker of the engine holds it this instant
        return f"Return {short_id(ret)} is busy this instant: scan the parcel again in a moment."
    state = ret.get_state_display().lower()
    return f"Return {short_id(ret)} is {state}: it no longer waits for a parcel. {ASIDE}"


def _received_before(label) -> str:
    when = f"{label.received_at:%Y-%m-%d %H:%M}"
    return (
        f"Parcel {label.tracking_number} of return {short_id(label.ret_id)} was already received at {when}."
    )


def _render(request, ret, task, lines, form, *, status=200):
    context = {
        "ret": ret,
        "task": task,
        "lines": lines,
        "form": form,
        "arriving": task is None and ret.state == ReturnState.PARCEL_RECEIVED,
        "list_url": reverse("warehouse:tasks"),
    }
    return render(request, "warehouse/inspection.html", context, status=status)


def _render_scan(request, form, received, *, status=200):
    return render(request, "warehouse/parcel_scan.html", {"form": form, "received": received}, status=status)


def _received_return(request) -> Return | None:
    """The return whose parcel was just scanned (?received=<id>), if the worker may see it."""
    try:
        return_id = uuid.UUID(request.GET.get("received", ""))
    except ValueError:
        return None
    return selectors.visible_returns(worker=request.user).filter(pk=return_id).first()


def _scanned_url(return_id) -> str:
    return f"{reverse('warehouse:parcel_scan')}?received={return_id}"


def _judged(ret, form) -> str:
    verdicts = form.verdicts()
    accepted = sum(verdict.accepted for verdict in verdicts)
    rejected = len(verdicts) - accepted
    what = f"{accepted} line{'s' if accepted != 1 else ''} accepted, {rejected} rejected"
    then = "The refund and the restock follow on their own." if accepted else "Nothing is refunded."
    return f"Return {short_id(ret)} inspected: {what}. {then}"


def _not_judged(ret, task) -> str:
    """Why the worker's verdicts were not saved: most often another worker was quicker."""
    if task is not None and task.status == InspectionTask.Status.DONE:
        who = task.done_by.get_username() if task.done_by else "someone"
        return (
            f"Return {short_id(ret)} was already inspected by {who} at {task.done_at:%H:%M}: "
            "nothing you entered was saved."
        )
    state = ret.get_state_display().lower()
    return f"Return {short_id(ret)} has no open inspection (it is {state}): nothing you entered was saved."
