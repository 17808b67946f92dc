"""Operator actions on orders: a confirmation page that asks for a reason, then one engine call
per order.

The same page serves one order (a button on its page) and many (an action of the list). Each
action has its own permission, checked on every request, whatever the buttons showed: a crafted
POST without it is refused. Refusals by the engine (wrong state, a guard, a duplicate id) come
back as messages naming the order, never as an error page.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django_fsm import TransitionNotAllowed

from fulfillment import interventions
from fulfillment.address_change import order_address_change_by_operator
from fulfillment.admin.address_form import AddressForm
from fulfillment.errors import InvalidOrder, PickRefused
from fulfillment.models import Order
from processes.exceptions import (
    HeldByCircuit,
    IllegalTransition,
    ManualResultRefused,
    ProcessStateError,
    StepError,
)
from processes.models.process import RunStatus
from processes.workflow import Step, registry

logger = logging.getLogger("fulfillment.admin")

REFUSALS = (
    ProcessStateError,
    TransitionNotAllowed,
    IllegalTransition,
    IntegrityError,
    StepError,
    ManualResultRefused,
    InvalidOrder,
    PickRefused,
    Order.DoesNotExist,
)
MAX_ORDERS = 500


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Written to each order's journal with your name.",
    )

    def service_arguments(self) -> dict:
        return {"reason": self.cleaned_data["reason"].strip()}


class RetryForm(ReasonForm):
    reset_attempts = forms.BooleanField(
        required=False, help_text="Start the step's retry count again from zero (a full new budget)."
    )

    def service_arguments(self) -> dict:
        return {**super().service_arguments(), "reset_attempts": self.cleaned_data["reset_attempts"]}


class SkipForm(ReasonForm):
    """What the operator did by hand instead of the step; the step declares the fields."""

    step = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, step: Step, **kwargs):
        super().__init__(*args, initial={"step": step.name}, **kwargs)
        for name, field in step.manual_fields.items():
            self.fields[name] = field()

    def service_arguments(self) -> dict:
        entered = {k: v for k, v in self.cleaned_data.items() if k not in ("reason", "step")}
        return {**super().service_arguments(), "step": self.cleaned_data["step"], "entered": entered}


class MigrateForm(ReasonForm):
    """Which version to move the orders to; each version declares the states it accepts."""

    to_version = forms.TypedChoiceField(coerce=int, help_text="The workflow version the orders continue on.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        versions = registry.versions(Order._meta.label_lower)
        self.fields["to_version"].choices = [(v, f"v{v}") for v in reversed(versions)]

    def service_arguments(self) -> dict:
        return {**super().service_arguments(), "to_version": self.cleaned_data["to_version"]}


@dataclass(frozen=True)
class OperatorAction:
    """One operator action: its permission, its service, its form, and the words it answers with:
    `may_not` begins the refusal of a user without the permission, `done` says what changed for
    one order (the order as the service left it, and what the form passed)."""

    name: str
    label: str
    permission: str
    service: Callable
    form: type[ReasonForm]
    explanation: str
    may_not: str
    done: Callable[[Order, dict], str]

    @property
    def perm(self) -> str:
        return f"fulfillment.{self.permission}"

    @property
    def refusal(self) -> str:
        """Why a user without the permission is refused, as a sentence naming the permission."""
        name = dict(Order._meta.permissions)[self.permission]
        return f"{self.may_not}: your account does not have the permission “{name}”. Ask an administrator."


def _retried(order: Order, arguments: dict) -> str:
    reset = ", its attempts counted from 0 again" if arguments.get("reset_attempts") else ""
    return f"{order.step} runs now{reset}"


def _undoing(order: Order, arguments: dict) -> str:
    if not order.step:
        return f"now {order.get_state_display().lower()}"
    return f"being undone, next the undo of {order.step}"


def _skipped(order: Order, arguments: dict) -> str:
    return f"{arguments['step']} marked done by hand, now at {order.step or 'the end'} ({order.state})"


def _resolved(order: Order, arguments: dict) -> str:
    if order.run_status == RunStatus.WAITING:
        return f"attention cleared, {order.step} waits again until {order.deadline_at:%H:%M:%S} UTC"
    return f"attention cleared, {order.step} runs again now" if order.step else "attention cleared"


def _migrated(order: Order, arguments: dict) -> str:
    return f"now on workflow v{order.workflow_version} at {order.step or 'the end'}"


def _address_changed(order: Order, arguments: dict) -> str:
    return "address changed, its label is made again" if order.direction == "redo" else "address changed"


ACTIONS = {
    action.name: action
    for action in [
        OperatorAction(
            "retry",
            "Retry now",
            "retry_order",
            interventions.order_retry_now,
            RetryForm,
            "Runs the current step (or undo) at once: clears the backoff and needs-attention.",
            "You may not retry orders",
            _retried,
        ),
        OperatorAction(
            "compensate",
            "Compensate",
            "compensate_order",
            interventions.order_compensate,
            ReasonForm,
            "Undoes the completed steps in reverse (void the label, release the stock, refund the "
            "payment), then cancels the order.",
            "You may not compensate orders",
            _undoing,
        ),
        OperatorAction(
            "cancel",
            "Cancel",
            "cancel_order",
            interventions.order_cancel,
            ReasonForm,
            "Cancels an order that is not picked yet, undoing what was done (refund included).",
            "You may not cancel orders",
            _undoing,
        ),
        OperatorAction(
            "skip",
            "Skip step by hand",
            "skip_order_step",
            interventions.order_skip_step,
            SkipForm,
            "Marks the current step done with the result you enter (for example a label made on "
            "the carrier's own site) and goes on with the next step.",
            "You may not mark an order's step done by hand",
            _skipped,
        ),
        OperatorAction(
            "resolve",
            "Resolve attention",
            "resolve_order_attention",
            interventions.order_resolve_attention,
            ReasonForm,
            "Clears needs-attention: the current step runs again at once, or a wait gets a new deadline.",
            "You may not resolve an order's needs-attention",
            _resolved,
        ),
        OperatorAction(
            "migrate",
            "Move to workflow version",
            "migrate_order_version",
            interventions.order_migrate_version,
            MigrateForm,
            "Moves the order onto another version of the workflow at a safe point, by the state mapping "
            "that version declares; an order in a state the mapping does not cover is refused.",
            "You may not move orders to another workflow version",
            _migrated,
        ),
        OperatorAction(
            "change_address",
            "Change address",
            "change_address",
            order_address_change_by_operator,
            AddressForm,
            "Changes the shipping address until the order is picked: before its label is made the "
            "label uses it; after, the label is voided and made again; a label the carrier refused is "
            "tried again with it.",
            "You may not change an order's shipping address",
            _address_changed,
        ),
    ]
}
# The actions the order list offers on the rows ticked (an address is one order's own).
LIST_ACTIONS = [name for name in ACTIONS if name != "change_address"]


def operator_action_view(model_admin, request, action_name: str):
    """GET: the confirmation page for ?ids=…; POST: run the action on the posted ids."""
    action = ACTIONS.get(action_name)
    if action is None:
        raise PermissionDenied(f"No operator action {action_name!r}.")
    if not request.user.has_perm(action.perm):
        raise PermissionDenied(action.refusal)
    source = request.POST if request.method == "POST" else request.GET
    ids = _order_ids(source.getlist("ids"))
    if not ids:
        messages.error(request, "No orders were selected.")
        return HttpResponseRedirect(reverse("admin:fulfillment_order_changelist"))
    orders = list(Order.objects.filter(pk__in=ids).select_related("warehouse"))
    if not orders:
        messages.error(request, "None of the selected orders exists.")
        return HttpResponseRedirect(reverse("admin:fulfillment_order_changelist"))
    return confirmation_response(model_admin, request, action, orders)


def confirmation_response(model_admin, request, action: OperatorAction, orders: list[Order], back=None):
    """Render the confirmation page, or, on a valid POST of it, run the action."""
    if len(orders) > MAX_ORDERS:
        messages.error(request, f"Select at most {MAX_ORDERS} orders for one action.")
        return HttpResponseRedirect(reverse("admin:fulfillment_order_changelist"))
    form, problem = _bound_form(request, action, orders)
    if form is not None and request.POST.get("confirm") == "yes" and form.is_valid():
        _run(request, action, orders, form)
        return HttpResponseRedirect(_back_url(request, orders))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"{action.label}: {len(orders)} order{'s' if len(orders) != 1 else ''}",
        "action": action,
        "form": form,
        "problem": problem,
        "rows": [(order, interventions.order_available_actions(order)[action.name]) for order in orders],
        "back_url": back or _back_url(request, orders),
        "post_url": reverse("admin:fulfillment_order_operator", args=[action.name]),
    }
    return TemplateResponse(request, "admin/fulfillment/order/operator_action.html", context)


def _bound_form(request, action: OperatorAction, orders: list[Order]):
    data = request.POST if request.POST.get("confirm") == "yes" else None
    if action.form is AddressForm:
        if len(orders) != 1:
            return None, "Every order has its own address: change it one order at a time."
        return AddressForm(data, order=orders[0]), ""
    if action.form is not SkipForm:
        return action.form(data), ""
    steps = {order.step for order in orders}
    if "" in steps:
        return None, "A finished order has no step left to do by hand."
    if len(steps) != 1:
        return None, "Select orders that are all at the same step, to mark that step done by hand."
    name = steps.pop()
    if data is not None and data.get("step") != name:
        return None, "The orders have moved on since this page was shown; look at them again."
    step = registry.for_process(orders[0]).step(name)
    if step.manual_one_at_a_time and len(orders) > 1:
        return None, f"The result of {name} is different for every order: enter it one order at a time."
    return SkipForm(data, step=step), ""


def _run(request, action: OperatorAction, orders: list[Order], form: ReasonForm) -> None:
    arguments = form.service_arguments()
    done, refused = [], []
    for order in orders:
        try:
            after = action.service(order_id=order.pk, user=request.user, **arguments)
        except REFUSALS as error:
            refused.append((order, _refusal_text(error)))
        except Exception as error:  # never an error page halfway through a bulk action
            logger.exception("operator action %s on order %s failed", action.name, order.pk)
            refused.append((order, f"failed unexpectedly ({type(error).__name__}); see the logs"))
        else:
            done.append((order, action.done(after, arguments)))
    if done:
        changed = "; ".join(f"{str(order.pk)[:8]}: {words}" for order, words in done[:10])
        more = f"; and {len(done) - 10} more" if len(done) > 10 else ""
        messages.success(request, f"{action.label}: done for {_count(done)} ({changed}{more}).")
    for order, why in refused[:20]:
        text = f"{action.label} refused for order {order.pk}: "
        messages.error(request, format_html("{}{}", text, why) if isinstance(why, SafeString) else text + why)
    if len(refused) > 20:
        messages.error(request, f"… and {len(refused) - 20} more orders refused.")


def _refusal_text(error: Exception) -> str:
    if isinstance(error, HeldByCircuit) and error.url:
        return format_html('{} <a href="{}">See the incident</a>.', str(error), error.url)
    if isinstance(error, TransitionNotAllowed):
        return f"its state does not allow this ({error})"
    if isinstance(error, IntegrityError):
        return "what you entered is already recorded for another order (a duplicate id)"
    return str(error) or type(error).__name__


def _order_ids(values: list[str]) -> list[uuid.UUID]:
    ids = []
    for value in values:
        for part in value.split(","):
            try:
                ids.append(uuid.UUID(part.strip()))
            except ValueError:
                continue
    return ids


def _back_url(request, orders: list[Order]) -> str:
    """Where the operator came from (the filtered list), else the order or the list."""
    back = request.POST.get("next") or request.GET.get("next")
    if back and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return back
    if len(orders) == 1:
        return reverse("admin:fulfillment_order_change", args=[orders[0].pk])
    return reverse("admin:fulfillment_order_changelist")


def _count(orders: list[Order]) -> str:
    return f"{len(orders)} order{'s' if len(orders) != 1 else ''}"


def bulk_action(name: str):
    """An admin list action that opens the confirmation page for the selected orders."""
    action = ACTIONS[name]

    def run(model_admin, request, queryset):
        orders = list(queryset.select_related("warehouse")[: MAX_ORDERS + 1])
        return confirmation_response(model_admin, request, action, orders, back=request.get_full_path())

    run.__name__ = f"{name}_orders"
    run.short_description = f"{action.label}…"
    run.allowed_permissions = (name,)
    return run
