"""The warehouse's inspection of a returned parcel: a task beside picking, one per return.

The workflow's `inspect` step opens the task; a worker (or the simulated inspector) judges
every line, accepted or rejected with a reason, and `inspection_complete` delivers that as the
answer the step waits for. Every change takes the return's row lock first, then the task's.
"""

from dataclasses import dataclass

from fulfillment.errors import InvalidReturn, ReturnNotAllowed
from fulfillment.models import InspectionTask, Return, ReturnLine
from processes import clock
from processes.control import process_signal
from processes.exceptions import ProcessStateError
from processes.journal import Actor

INSPECT_STEP = "inspect"


@dataclass(frozen=True)
class LineVerdict:
    """A worker's judgement of one return line: accepted, or rejected and why."""

    line_id: int
    accepted: bool
    reason: str = ""


def inspection_complete(*, ret: Return, verdicts: list[LineVerdict], actor: Actor, worker_id=None) -> Return:
    """Judge every line of the return at once; InvalidReturn says which verdict is wrong and
    nothing changes; ReturnNotAllowed when the return is not waiting for its inspection."""
    line_ids = set(ret.lines.values_list("pk", flat=True))
    given = {verdict.line_id: verdict for verdict in verdicts}
    if set(given) != line_ids or len(given) != len(verdicts):
        raise InvalidReturn(f"Judge each line of return {ret.pk} once: lines {sorted(line_ids)}.")
    for verdict in verdicts:
        if not verdict.accepted and not verdict.reason.strip():
            raise InvalidReturn(f"Say why line {verdict.line_id} is rejected.")
    payload = {
        "worker_id": worker_id,
        "verdicts": [[v.line_id, bool(v.accepted), v.reason.strip()[:300]] for v in verdicts],
    }
    try:
        return process_signal(
            model=Return,
            process_id=ret.pk,
            step=INSPECT_STEP,
            payload=payload,
            actor=actor,
            reason="inspected",
        )
    except ProcessStateError:
        raise ReturnNotAllowed(f"Return {ret.pk} is not waiting for its inspection.") from None


# Called by the return workflow's inspect step, under the return's row lock.


def inspection_open(*, ret: Return) -> InspectionTask:
    task = InspectionTask.objects.filter(ret=ret).first()
    return task or InspectionTask.objects.create(ret=ret, warehouse_id=ret.order.warehouse_id)


def inspection_record(*, ret: Return, payload: dict) -> InspectionTask:
    """Write each line's verdict and close the task."""
    task = InspectionTask.objects.select_for_update().get(ret=ret)
    for line_id, accepted, reason in payload["verdicts"]:
        verdict = ReturnLine.Verdict.ACCEPTED if accepted else ReturnLine.Verdict.REJECTED
        ret.lines.filter(pk=line_id).update(verdict=verdict, reject_reason="" if accepted else reason)
    task.status, task.done_at, task.done_by_id = (
        InspectionTask.Status.DONE,
        clock.now(),
        payload.get("worker_id"),
    )
    task.save()
    return task
