"""A return's parcel arriving: the carrier says so (its signed webhook), or a warehouse worker
scans it. Either delivers the answer the return's `await_parcel` step waits for.
"""

from fulfillment.errors import ReturnNotAllowed
from fulfillment.models import Return, ReturnLabel
from processes import clock
from processes.control import process_signal
from processes.exceptions import ProcessStateError
from processes.journal import Actor

AWAIT_PARCEL_STEP = "await_parcel"


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
