"""The operator actions on orders: retry, compensate, cancel, skip a step by hand, resolve
needs-attention, move to another workflow version.

Each is an `OperatorAction` of fulfillment.admin.action_pages, which serves their confirmation
pages (a reason, then one call into fulfillment.interventions per order) and their messages.
"""

from functools import partial

from django import forms

from fulfillment import interventions
from fulfillment.address_change import order_address_change_by_operator
from fulfillment.admin.action_pages import (
    ActionSet,
    OperatorAction,
    ReasonForm,
    RetryForm,
    action_view,
    list_action,
    resolved,
    retried,
    undoing,
)
from fulfillment.admin.address_form import AddressForm
from fulfillment.models import Order
from processes.workflow import Step, registry


class SkipForm(ReasonForm):
    """What the operator did by hand instead of the step; the step declares the fields."""

    step = forms.CharField(widget=forms.HiddenInput)

    def __init__(self, *args, step: Step, **kwargs):
        super().__init__(*args, initial={"step": step.name}, **kwargs)
        for name, field in step.manual_fields.items():
            self.fields[name] = field()

    @classmethod
    def for_processes(cls, data, processes: list[Order]):
        """One step's fields for orders all at that step; None and why for any other selection."""
        steps = {order.step for order in processes}
        if "" in steps:
            return None, "A finished order has no step left to do by hand."
        if len(steps) != 1:
            return None, "Select orders that are all at the same step, to mark that step done by hand."
        name = steps.pop()
        if data is not None and data.get("step") != name:
            return None, "The orders have moved on since this page was shown; look at them again."
        step = registry.for_process(processes[0]).step(name)
        if step.manual_one_at_a_time and len(processes) > 1:
            return None, f"The result of {name} is different for every order: enter it one order at a time."
        return cls(data, step=step), ""

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


def _skipped(order: Order, arguments: dict) -> str:
    return f"{arguments['step']} marked done by hand, now at {order.step or 'the end'} ({order.state})"


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
            retried,
            Order,
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
            undoing,
            Order,
        ),
        OperatorAction(
            "cancel",
            "Cancel",
            "cancel_order",
            interventions.order_cancel,
            ReasonForm,
            "Cancels an order that is not picked yet, undoing what was done (refund included).",
            "You may not cancel orders",
            undoing,
            Order,
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
            Order,
        ),
        OperatorAction(
            "resolve",
            "Resolve attention",
            "resolve_order_attention",
            interventions.order_resolve_attention,
            ReasonForm,
            "Clears needs-attention: the current step runs again at once, or a wait gets a new deadline.",
            "You may not resolve an order's needs-attention",
            resolved,
            Order,
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
            Order,
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
            Order,
        ),
    ]
}
# The actions the order list offers on the rows ticked (an address is one order's own).
LIST_ACTIONS = [name for name in ACTIONS if name != "change_address"]


ORDER_ACTIONS = ActionSet(
    model=Order,
    actions=ACTIONS,
    available=interventions.order_available_actions,
    id_argument="order_id",
    url_name="admin:fulfillment_order_operator",
)
operator_action_view = partial(action_view, ORDER_ACTIONS)


def bulk_action(name: str):
    """An admin list action that opens the confirmation page for the selected orders."""
    return list_action(ORDER_ACTIONS, name)
