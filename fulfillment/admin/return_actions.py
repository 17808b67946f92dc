"""The operator actions on returns: approve or refuse one above the approval threshold, retry
now, cancel before its parcel arrives, resolve needs-attention.

The same confirmation pages, rules and messages as the orders' (fulfillment.admin.action_pages);
the services are fulfillment.returns.operators.
"""

from functools import partial

from fulfillment.admin.action_pages import (
    ActionSet,
    OperatorAction,
    ReasonForm,
    RetryForm,
    action_view,
    resolved,
    retried,
    undoing,
)
from fulfillment.models import Return
from fulfillment.returns import operators


def _approved(ret: Return, arguments: dict) -> str:
    return f"approved by {ret.approved_by}, {ret.step} runs now"


def _refused(ret: Return, arguments: dict) -> str:
    return f"refused, {undoing(ret, arguments)}"


ACTIONS = {
    action.name: action
    for action in [
        OperatorAction(
            "approve",
            "Approve",
            "approve_return",
            operators.return_approve,
            ReasonForm,
            "Approves a return worth more than the automatic approval allows: its return label is made next.",
            "You may not approve returns",
            _approved,
            Return,
        ),
        OperatorAction(
            "refuse",
            "Refuse",
            "approve_return",
            operators.return_refuse,
            ReasonForm,
            "Refuses a return that waits for approval: it is cancelled, with your reason in its journal "
            "(nothing was done for it yet).",
            "You may not refuse returns",
            _refused,
            Return,
        ),
        OperatorAction(
            "retry",
            "Retry now",
            "retry_return",
            operators.return_retry_now,
            RetryForm,
            "Runs the current step (or undo) at once: clears the backoff and needs-attention.",
            "You may not retry returns",
            retried,
            Return,
        ),
        OperatorAction(
            "cancel",
            "Cancel",
            "cancel_return",
            operators.return_cancel_by_operator,
            ReasonForm,
            "Cancels a return whose parcel has not arrived: its label is voided and, if it was waiting "
            "for the parcel, the customer is told it is closed.",
            "You may not cancel returns",
            undoing,
            Return,
        ),
        OperatorAction(
            "resolve",
            "Resolve attention",
            "resolve_return_attention",
            operators.return_resolve_attention,
            ReasonForm,
            "Clears needs-attention: the current step runs again at once, or a wait gets a new deadline.",
            "You may not resolve a return's needs-attention",
            resolved,
            Return,
        ),
    ]
}

RETURN_ACTIONS = ActionSet(
    model=Return,
    actions=ACTIONS,
    available=operators.return_available_actions,
    id_argument="return_id",
    url_name="admin:fulfillment_return_operator",
)
return_action_view = partial(action_view, RETURN_ACTIONS)
