"""What an operator may do to an order by hand: retry, compensate, cancel, skip a step, resolve.

Each service is one engine call (processes.interventions) made as the operator, with the reason
the operator gave; the engine locks the order, refuses from the wrong state with
ProcessStateError, journals and wakes the order after commit. Permissions are checked by the
interface (the admin), never here.
"""

from django.db import transaction

from fulfillment.address_change import address_change_refusal
from fulfillment.models import Order
from processes.exceptions import ProcessStateError
from processes.interventions import (
    process_compensate,
    process_resolve_attention,
    process_retry_now,
    process_skip_step,
)
from processes.journal import Actor
from processes.models.journal import ActorType
from processes.models.process import Direction, Hold, RunStatus
from processes.refusals import Refusal
from processes.versions import process_migrate_version
from processes.waiting_reason import Case, waiting_reason
from processes.workflow import Step, WaitStep, registry


def operator(user) -> Actor:
    """The operator acting: a signed-in user, or the Actor a bulk operation acts as."""
    if isinstance(user, Actor):
        return user
    return Actor(ActorType.OPERATOR, user.get_username())


def order_retry_now(*, order_id, user, reason: str, reset_attempts: bool = False) -> Order:
    """Run the current step (or undo) at once, clearing backoff and needs-attention."""
    return process_retry_now(
        model=Order, process_id=order_id, actor=operator(user), reason=reason, reset_attempts=reset_attempts
    )


def order_compensate(*, order_id, user, reason: str) -> Order:
    """Undo the order's completed steps in reverse (refund, release, void), then cancel it."""
    return process_compensate(model=Order, process_id=order_id, actor=operator(user), reason=reason)


def order_cancel(*, order_id, user, reason: str) -> Order:
    """Cancel an order that is not picked yet: compensation, refused once the goods are picked."""
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id)
        refusal = order_cancel_refusal(order)
        if refusal is not None:
            raise refusal.error(order)
        return process_compensate(
            model=Order, process_id=order_id, actor=operator(user), reason=f"cancelled: {reason}"
        )


def order_cancel_refusal(order: Order) -> Refusal | None:
    """Why the order can no longer be cancelled (None when it can): the goods are picked."""
    if order.is_cancellable():
        return None
    return Refusal(
        f"is {order.get_state_display().lower()}: it can no longer be cancelled"
        " (compensate it instead if it must be undone)"
    )


def order_skip_step(*, order_id, user, step: str, reason: str, entered: dict) -> Order:
    """Mark the current step done by hand with the result the operator `entered`, as the step
    reads and checks it (Step.manual_result: ManualResultRefused when it will not do)."""
    order = Order.objects.get(pk=order_id)
    if order.direction != Direction.FORWARD:
        raise ProcessStateError(f"Order {order.pk} is being undone: only a forward step can be done by hand.")
    if order.step != step:
        raise ProcessStateError(
            f"Order {order.pk} is not at step {step!r} (it is at {order.step or 'none'})."
        )
    current = registry.for_process(order).step(step)
    too_early = _too_early_by_hand(order, current)
    if too_early:
        raise ProcessStateError(f"Step {step} of order {order.pk} cannot be done by hand yet: {too_early}.")
    result = current.manual_result(order, entered)
    return process_skip_step(
        model=Order, process_id=order_id, step=step, result=result, actor=operator(user), reason=reason
    )


def order_resolve_attention(*, order_id, user, reason: str) -> Order:
    """Clear needs-attention: the current step runs again at once, or a wait gets a new deadline."""
    return process_resolve_attention(model=Order, process_id=order_id, actor=operator(user), reason=reason)


def order_migrate_version(*, order_id, user, reason: str, to_version: int | None = None) -> Order:
    """Move an in-flight order onto another workflow version (default: the newest) at a safe
    point, by the mapping that version declares; refused with the reason otherwise."""
    version = to_version or registry.newest(Order._meta.label_lower).version
    return process_migrate_version(
        model=Order, process_id=order_id, to_version=version, actor=operator(user), reason=reason
    )


def order_available_actions(order: Order) -> dict[str, str]:
    """Why each action would be refused now ('' when it is allowed): for showing the buttons.

    Advisory only: the services check again under the row lock.
    """
    finished = order.run_status == RunStatus.FINISHED
    undoing = order.direction == Direction.COMPENSATE
    return {
        "retry": _retry_refusal(order),
        "compensate": "" if not finished and not undoing else f"it is {order.get_state_display().lower()}",
        "cancel": "" if order.is_cancellable() else "it is picked, finished or compensating",
        "skip": _skip_refusal(order),
        "resolve": "" if order.needs_attention else "it does not need attention",
        "migrate": _migrate_refusal(order),
        "change_address": address_change_refusal(order),
    }


def _retry_refusal(order: Order) -> str:
    """No step, or a circuit that would hold it again at once (as `process_retry` refuses it)."""
    if order.run_status != RunStatus.READY or not order.step:
        return "it has no step to retry"
    if order.held_by != Hold.CIRCUIT:
        return ""  # no query for the usual order
    waiting = waiting_reason(order)
    if waiting is not None and waiting.case in (Case.HELD, Case.PAUSED):
        return "its circuit holds it, so a retry would change nothing; see the incident"
    return ""


def _migrate_refusal(order: Order) -> str:
    newest = registry.newest(Order._meta.label_lower)
    if order.workflow_version >= newest.version:
        return f"it already runs on the newest version (v{order.workflow_version})"
    if order.run_status == RunStatus.FINISHED or order.direction != Direction.FORWARD:
        return "only an order going forward can change version"
    if order.state not in newest.migrates_from.get(order.workflow_version, {}):
        state = order.get_state_display().lower()
        return f"v{newest.version} maps no {state} order from v{order.workflow_version}"
    return ""


def _skip_refusal(order: Order) -> str:
    if order.run_status == RunStatus.FINISHED or order.direction != Direction.FORWARD or not order.step:
        return "only a forward step can be done by hand"
    return _too_early_by_hand(order, registry.for_process(order).step(order.step))


def _too_early_by_hand(order: Order, step: Step) -> str:
    """Why the step cannot be done by hand yet ('' when it can): a wait step is done by hand by
    answering for its person, so only once the order waits (WaitStep.manual_before_waiting)."""
    if isinstance(step, WaitStep) and order.run_status != RunStatus.WAITING:
        return step.manual_before_waiting
    return ""
