"""What an operator may do to a return by hand: approve or refuse it, retry, cancel, resolve.

Each is one engine call (processes.control, processes.interventions) made as the operator, with
the reason the operator gave, as the order's are (fulfillment.interventions); the engine locks
the return, refuses from the wrong state with ProcessStateError, journals and wakes it after
commit. Permissions are checked by the interface (the admin), never here.
"""

from fulfillment.interventions import operator
from fulfillment.models import Return
from fulfillment.returns.requests import return_cancel
from fulfillment.returns.steps import ApproveReturn
from processes.control import process_signal, process_wait_failed
from processes.exceptions import ProcessStateError
from processes.interventions import process_resolve_attention, process_retry_now
from processes.models.process import Direction, RunStatus

APPROVE_STEP = ApproveReturn.name


def return_approve(*, return_id, user, reason: str) -> Return:
    """Approve a return that waits for an operator (worth more than RETURN_APPROVAL_THRESHOLD):
    its label is made next."""
    _refuse_unless_waiting_for_approval(return_id)
    return process_signal(
        model=Return,
        process_id=return_id,
        step=APPROVE_STEP,
        payload={"by": user.get_username()},
        actor=operator(user),
        reason=reason,
    )


def return_refuse(*, return_id, user, reason: str) -> Return:
    """Refuse a return that waits for an operator's approval: it is closed (the approval
    step's `on_problem`); nothing was done for it yet, so there is nothing to undo."""
    _refuse_unless_waiting_for_approval(return_id)
    return process_wait_failed(
        model=Return,
        process_id=return_id,
        step=APPROVE_STEP,
        actor=operator(user),
        reason=f"refused: {reason}",
    )


def return_retry_now(*, return_id, user, reason: str, reset_attempts: bool = False) -> Return:
    """Run the current step (or undo) at once, clearing backoff and needs-attention."""
    return process_retry_now(
        model=Return, process_id=return_id, actor=operator(user), reason=reason, reset_attempts=reset_attempts
    )


def return_cancel_by_operator(*, return_id, user, reason: str) -> Return:
    """Cancel a return before its parcel arrived (the client's cancel, made by an operator): its
    label is voided and, if it waited for the parcel, the customer told."""
    return return_cancel(ret=Return.objects.get(pk=return_id), actor=operator(user), reason=reason)


def return_resolve_attention(*, return_id, user, reason: str) -> Return:
    """Clear needs-attention: the current step runs again at once, or a wait gets a new deadline."""
    return process_resolve_attention(model=Return, process_id=return_id, actor=operator(user), reason=reason)


def return_available_actions(ret: Return) -> dict[str, str]:
    """Why each action would be refused now ('' when it is allowed): for showing the buttons.

    Advisory only: the services check again under the row lock.
    """
    approval = _approval_refusal(ret)
    return {
        "approve": approval,
        "refuse": approval,
        "retry": "" if ret.run_status == RunStatus.READY and ret.step else "it has no step to retry",
        "cancel": _cancel_refusal(ret),
        "resolve": "" if ret.needs_attention else "it does not need attention",
    }


def _approval_refusal(ret: Return) -> str:
    if ret.approved_by:
        return f"it is already approved (by {ret.approved_by})"
    if ret.step != APPROVE_STEP or ret.run_status != RunStatus.WAITING or ret.direction != Direction.FORWARD:
        return "it does not wait for an operator's approval"
    return ""


def _refuse_unless_waiting_for_approval(return_id) -> None:
    why = _approval_refusal(Return.objects.get(pk=return_id))
    if why:
        raise ProcessStateError(
            f"{why[0].upper()}{why[1:]}: only a return waiting for approval can be approved or refused."
        )


def _cancel_refusal(ret: Return) -> str:
    if ret.direction == Direction.COMPENSATE:
        return "it is already being closed"
    if not ret.is_cancellable() or ret.run_status == RunStatus.FINISHED:
        state = ret.get_state_display().lower()
        return f"it is {state}: a return can be cancelled only until its parcel arrives"
    return ""
