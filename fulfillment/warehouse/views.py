"""The warehouse worker's pick pages: task list, task, claim, confirm, problem, release, label.

The task list shows the returns to inspect too (their pages: fulfillment.warehouse.return_views).

Thin: each view finds the task among the worker's warehouses (404 for any other), calls one
pick service, and shows what happened. Refusals come back as a plain message on the page.
"""

from django.contrib import messages
from django.contrib.auth.views import LoginView
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from fulfillment.errors import PickMismatch, PickRefused
from fulfillment.landing import landing_url
from fulfillment.picking.tasks import (
    pick_notices_take,
    pick_task_claim,
    pick_task_confirm,
    pick_task_release,
    pick_task_report_problem,
)
from fulfillment.warehouse import return_selectors, selectors
from fulfillment.warehouse.access import is_warehouse_worker, worker_required
from fulfillment.warehouse.forms import ConfirmPickForm, ProblemForm
from fulfillment.warehouse.labels import barcode_svg
from processes import clock
from processes.models.process import Direction

NOT_A_WORKER = (
    "The warehouse pages are for warehouse workers, and {username} is not one: you are signed in to"
    " the pages of your role instead."
)


class WorkerLoginView(LoginView):
    """The warehouse sign-in page: a worker lands on the task list unless `next` names a page of
    this site; anyone else (an operator who came here by mistake) where their role starts, told
    why, whatever `next` says: a warehouse page would only refuse them."""

    template_name = "warehouse/login.html"

    def form_valid(self, form):
        response = super().form_valid(form)
        if not is_warehouse_worker(form.get_user()):
            messages.info(self.request, NOT_A_WORKER.format(username=form.get_user().get_username()))
        return response

    def get_success_url(self):
        if is_warehouse_worker(self.request.user):
            return super().get_success_url()
        return landing_url(self.request.user)

    def get_default_redirect_url(self):
        if is_warehouse_worker(self.request.user):
            return reverse("warehouse:tasks")
        return landing_url(self.request.user)


@require_GET
@worker_required
def task_list(request):
    now = clock.now()
    tasks = [
        (task, selectors.pick_task_sla(task, now)) for task in selectors.pick_task_list(worker=request.user)
    ]
    inspections = [
        (task, return_selectors.inspection_sla(task, now))
        for task in return_selectors.inspection_task_list(worker=request.user)
    ]
    for notice in pick_notices_take(worker=request.user):
        messages.warning(request, notice.text)
    return render(request, "warehouse/task_list.html", {"tasks": tasks, "inspections": inspections})


@require_GET
@worker_required
def task_detail(request, task_id: int):
    task = selectors.pick_task_get(worker=request.user, task_id=task_id)
    return _render_task(request, task)


@require_POST
@worker_required
def task_claim(request, task_id: int):
    task = selectors.pick_task_get(worker=request.user, task_id=task_id)
    try:
        pick_task_claim(task_id=task.pk, worker=request.user)
    except PickRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, "Claimed: it is yours. Pick every line, then confirm.")
    return redirect("warehouse:task", task_id=task.pk)


@require_POST
@worker_required
def task_confirm(request, task_id: int):
    task = selectors.pick_task_get(worker=request.user, task_id=task_id)
    form = ConfirmPickForm(request.POST, lines=selectors.pick_task_lines(task=task))
    if not form.is_valid():
        return _render_task(request, task, form=form, status=400)
    try:
        pick_task_confirm(task_id=task.pk, worker=request.user, picked=form.picked())
    except PickMismatch as mismatch:
        form.refuse(mismatch.errors)
        return _render_task(request, task, form=form, status=400)
    except PickRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("warehouse:task", task_id=task.pk)
    messages.success(request, "Picked. The order goes on to shipping.")
    return redirect("warehouse:task", task_id=task.pk)


@require_POST
@worker_required
def task_release(request, task_id: int):
    task = selectors.pick_task_get(worker=request.user, task_id=task_id)
    try:
        pick_task_release(task_id=task.pk, worker=request.user)
    except PickRefused as refusal:
        messages.error(request, str(refusal))
        return redirect("warehouse:task", task_id=task.pk)
    messages.success(request, "Released: the task is back in the list for anyone.")
    return redirect("warehouse:tasks")


@require_http_methods(["GET", "POST"])
@worker_required
def task_problem(request, task_id: int):
    task = selectors.pick_task_get(worker=request.user, task_id=task_id)
    form = ProblemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            order = pick_task_report_problem(task_id=task.pk, worker=request.user, **form.cleaned_data)
        except PickRefused as refusal:
            messages.error(request, str(refusal))
            return redirect("warehouse:task", task_id=task.pk)
        messages.success(request, _reported(task, order))
        return redirect("warehouse:tasks")
    status = 400 if form.is_bound else 200
    return render(request, "warehouse/task_problem.html", {"task": task, "form": form}, status=status)


@require_GET
@worker_required
def task_label(request, task_id: int):
    task = selectors.pick_task_get(worker=request.user, task_id=task_id)
    shipment = selectors.pick_task_shipment(task=task)
    context = {
        "task": task,
        "shipment": shipment,
        "barcode": barcode_svg(shipment.tracking_number) if shipment else "",
    }
    return render(request, "warehouse/task_label.html", context, status=200 if shipment else 404)


def _reported(task, order) -> str:
    """What became of the worker's claim and of the task once they reported a problem."""
    order_id = str(task.order_id)[:8].upper()
    done = f"Problem reported on order {order_id}. Your claim is released: the task is no longer yours."
    if order.direction == Direction.COMPENSATE:
        return f"{done} The order is being cancelled, so nobody will pick it. Nothing more to do."
    return (
        f"{done} It stays in the list, held for an operator, who has been told: nobody can claim it "
        "until they decide (pick it after all, or cancel the order). Nothing more to do."
    )


def _render_task(request, task, *, form=None, status=200):
    lines = selectors.pick_task_lines(task=task)
    held = task.is_held_by(request.user)
    context = {
        "task": task,
        "order": task.order,
        "lines": lines,
        "held": held,
        "form": form or (ConfirmPickForm(lines=lines) if held else None),
        "sla": selectors.pick_task_sla(task, clock.now()),
        "shipment": selectors.pick_task_shipment(task=task),
        "list_url": reverse("warehouse:tasks"),
    }
    return render(request, "warehouse/task_detail.html", context, status=status)
