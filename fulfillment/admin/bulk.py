"""Act on every order a filter of the list matches: choose an action and a reason, read the
preview, confirm, and watch the progress.

"Act on all N matching" on the order list opens this page with the list's own filter
(fulfillment.order_selection). The preview asks every matching order the action's own refusal
check and what its undo gives back (processes.bulk_preview); confirming freezes the matching
ids as a bulk operation that a django-q2 task runs in batches (processes.bulk), and the progress
page follows it. Each action needs the permission of the single action, checked on every request.
"""

from functools import partial

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from fulfillment.admin.bulk_operations import bulk_list_url
from fulfillment.bulk_actions import LABEL
from fulfillment.order_selection import SelectionError, orders_for_preview, selection_from_params
from processes.bulk import action_for, actions, bulk_cancel, bulk_start
from processes.bulk_preview import bulk_preview
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.models.bulk import BulkOperation, BulkState, ItemOutcome
from processes.models.journal import ActorType

PREVIEW_TEMPLATE = "admin/fulfillment/order/bulk_preview.html"


class BulkForm(forms.Form):
    action = forms.ChoiceField()
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Written to each order's journal with your name and the operation's number.",
    )
    expected = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = [a for a in actions(LABEL) if user.has_perm(a.permission)]
        self.fields["action"].choices = [(a.name, a.label) for a in allowed]


def bulk_view(model_admin, request):
    """GET: the form; POST: the preview, or with confirm=yes the operation's start."""
    try:
        selection = selection_from_params(request.GET)
    except SelectionError as error:
        messages.error(request, f"This filter cannot be acted on: {error}")
        return HttpResponseRedirect(reverse("admin:fulfillment_order_changelist"))
    form = BulkForm(request.POST or None, user=request.user)
    if not form.fields["action"].choices:
        raise PermissionDenied(
            "You may not act on orders in bulk: your account has none of the actions' permissions."
        )
    context = {"selection": selection, "form": form, "preview": None, "note": ""}
    if request.method == "POST" and form.is_valid():
        action = action_for(LABEL, form.cleaned_data["action"])
        if not request.user.has_perm(action.permission):
            raise PermissionDenied(f"You may not {action.label.lower()} orders.")
        ids = list(selection.queryset().values_list("pk", flat=True))
        expected = form.cleaned_data["expected"]
        if request.POST.get("confirm") == "yes" and expected == len(ids):
            return _start(request, action, ids, form.cleaned_data["reason"], selection)
        if request.POST.get("confirm") == "yes":
            context["note"] = (
                f"The matching orders changed since the preview ({expected} then, {len(ids)} now): "
                "here is the preview again."
            )
        preview = bulk_preview(
            label=LABEL, action=action.name, processes=orders_for_preview(ids).iterator(500)
        )
        context.update(preview=preview, action=action, reason=form.cleaned_data["reason"])
    return TemplateResponse(request, PREVIEW_TEMPLATE, {**_base(model_admin, request), **context})


def _start(request, action, ids, reason: str, selection):
    actor = Actor(ActorType.OPERATOR, request.user.get_username())
    operation = bulk_start(
        label=LABEL,
        action=action.name,
        process_ids=ids,
        actor=actor,
        reason=reason,
        selection=selection.words(),
    )
    messages.success(request, f"{action.label} of {len(ids)} orders started in the background.")
    return HttpResponseRedirect(reverse("admin:fulfillment_order_bulk_progress", args=[operation.pk]))


def bulk_progress_view(model_admin, request, operation_id: int):
    """The operation's figures and bar; the page reloads itself until the operation ends. Those
    who may see orders may follow it (the operation names orders and their refusals)."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied("You may not see orders, nor the bulk operations on them.")
    operation = _operation(operation_id)
    action = action_for(LABEL, operation.action)
    problems = operation.items.filter(outcome__in=[ItemOutcome.REFUSED, ItemOutcome.FAILED]).order_by("id")
    context = {
        **_base(model_admin, request),
        "title": f"Bulk operation {operation.pk}: {action.label.lower()} of {operation.total} orders",
        "operation": operation,
        "action": action,
        "problems": problems[:50],
        "more_problems": max(operation.refused + operation.failed - 50, 0),
        "may_cancel": operation.state == BulkState.RUNNING and request.user.has_perm(action.permission),
    }
    return TemplateResponse(request, "admin/fulfillment/order/bulk_progress.html", context)


def bulk_cancel_view(model_admin, request, operation_id: int):
    operation = _operation(operation_id)
    action = action_for(LABEL, operation.action)
    if request.method != "POST":
        return HttpResponseRedirect(reverse("admin:fulfillment_order_bulk_progress", args=[operation.pk]))
    if not request.user.has_perm(action.permission):
        raise PermissionDenied(f"You may not {action.label.lower()} orders, nor stop an operation that does.")
    try:
        bulk_cancel(operation_id=operation.pk, actor=Actor(ActorType.OPERATOR, request.user.get_username()))
    except ProcessStateError as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, "Cancelling: the operation stops after the batch it is working on.")
    return HttpResponseRedirect(reverse("admin:fulfillment_order_bulk_progress", args=[operation.pk]))


def bulk_urls(model_admin, wrap) -> list:
    """The pages' addresses, under the order list's."""
    return [
        path("bulk/", wrap(partial(bulk_view, model_admin)), name="fulfillment_order_bulk"),
        path(
            "bulk/<int:operation_id>/",
            wrap(partial(bulk_progress_view, model_admin)),
            name="fulfillment_order_bulk_progress",
        ),
        path(
            "bulk/<int:operation_id>/cancel/",
            wrap(partial(bulk_cancel_view, model_admin)),
            name="fulfillment_order_bulk_cancel",
        ),
    ]


def _operation(operation_id: int) -> BulkOperation:
    operation = BulkOperation.objects.filter(pk=operation_id, process_type=LABEL).first()
    if operation is None:
        raise Http404(f"No bulk operation {operation_id} on orders.")
    return operation


def _base(model_admin, request) -> dict:
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Act on all matching orders",
        "list_url": reverse("admin:fulfillment_order_changelist") + _query(request),
        "bulk_list_url": bulk_list_url(request),
        "query": _query(request),
    }


def _query(request) -> str:
    return f"?{request.GET.urlencode()}" if request.GET else ""
