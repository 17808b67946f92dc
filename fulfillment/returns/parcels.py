"""A return's parcel arriving: the carrier says so (its signed webhook), or a warehouse worker
scans it. Either delivers the answer the return's `await_parcel` step waits for.

The carrier's events come through the engine's inbox (processes.inbox), which keeps each one
and drops a second delivery of its id; `return_message_handle` is the return workflow's
`on_message` hook that acts on them under the return's row lock.
"""

from fulfillment.errors import ReturnNotAllowed
from fulfillment.models import Return, ReturnLabel
from processes import clock
from processes.control import process_answer_locked, process_signal
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.models.process import Direction

AWAIT_PARCEL_STEP = "await_parcel"
PARCEL_RECEIVED = "parcel.received"


def return_parcel_received(*, tracking_number: str, actor: Actor) -> Return:
    """The parcel sent under this return label arrived: the return goes on to inspection.

    A second report of the same parcel changes nothing (the carrier retries its webhooks);
    a parcel for a return that is not waiting for it (closed, cancelled) raises ReturnNotAllowed.
    """
    label = ReturnLabel.objects.filter(tracking_number=tracking_number).first()
    if label is None:
        raise ReturnNotAllowed(f"No return label has tracking number {tracking_number!r}.")
    if label.received_at is not None:
        return label.ret
    try:
        return process_signal(
            model=Return,
            process_id=label.ret_id,
            step=AWAIT_PARCEL_STEP,
            payload={"tracking_number": tracking_number, "by": actor.name},
            actor=actor,
            reason=f"parcel {tracking_number} received",
        )
    except ProcessStateError:
        ret = Return.objects.get(pk=label.ret_id)
        if ret.labels.filter(tracking_number=tracking_number, received_at__isnull=False).exists():
            return ret  # a racing report got there first
        raise ReturnNotAllowed(
            f"Return {ret.pk} is {ret.get_state_display().lower()}: it no longer waits for a parcel."
        ) from None


def return_parcel_mark_received(*, ret: Return, tracking_number: str, by: str) -> int:
    """Under the return's row lock (the step's on_signal): stamp its live label received."""
    return ReturnLabel.objects.filter(
        ret=ret, tracking_number=tracking_number, voided_at__isnull=True, received_at__isnull=True
    ).update(received_at=clock.now(), received_by=by[:150])


def return_message_handle(ret: Return, message) -> bool:
    """The return workflow's `on_message`: a carrier's `parcel.received` for its label.

    Waiting for the parcel, the return goes on to inspection; its label not made into a wait
    yet (the event outran the worker), the label is stamped received and `await_parcel` settles
    itself when it runs; received already, nothing more happens. A closed return does not take
    the event: it stays pending in the inbox and the journal, for a person.
    """
    if message.name != PARCEL_RECEIVED:
        return False
    tracking_number = message.payload.get("tracking_number", "")
    if ret.labels.filter(tracking_number=tracking_number, received_at__isnull=False).exists():
        return True
    payload = {"tracking_number": tracking_number, "by": message.payload.get("by", "carrier-webhook")}
    reason = f"parcel {tracking_number} received"
    if process_answer_locked(ret, step=AWAIT_PARCEL_STEP, payload=payload, reason=reason):
        return True
    if ret.is_cancellable() and ret.direction == Direction.FORWARD:
        return bool(return_parcel_mark_received(ret=ret, tracking_number=tracking_number, by=payload["by"]))
    return False
