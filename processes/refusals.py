"""Why an operator's action on a process would be refused now, as one function per action.

The interventions (processes.interventions, processes.versions) call these under the process
row's lock and raise the refusal; a preview of a bulk operation (processes.bulk) calls the same
functions on rows it reads without a lock, so it cannot promise what the action will refuse.
Each returns None when the action may go on.
"""

from dataclasses import dataclass
from datetime import datetime

from processes import leases
from processes.exceptions import HeldByCircuit, ProcessStateError
from processes.models.process import Direction, Hold, RunStatus
from processes.waiting_reason import Case, waiting_reason


@dataclass(frozen=True)
class Refusal:
    """Why an action is refused: `reason` reads after the process's name and groups a
    preview's refusals, so it names no time or id; `detail` adds what varies (when a circuit
    probes next), `url` where to see more (the incident)."""

    reason: str
    detail: str = ""
    url: str = ""

    def error(self, process) -> ProcessStateError:
        if self.url:
            return HeldByCircuit(f"{self.reason}. {self.detail}".strip(), url=self.url)
        return ProcessStateError(f"{name(process)} {self.reason}.")


def name(process) -> str:
    return f"{type(process).__name__} {process.pk}"


def running(process, now: datetime) -> Refusal | None:
    """A worker holds the step's lease: nothing else may touch the step until it answers."""
    if leases.held(process, now):
        return Refusal(f"is running {process.step} right now; try again in a moment")
    return None


def retry(process, now: datetime) -> Refusal | None:
    if process.run_status != RunStatus.READY or not process.step:
        return Refusal(f"has no step to retry (it is {process.state})")
    return running(process, now) or held(process)


def held(process) -> Refusal | None:
    """A process its circuit holds (open, probing or paused) would be held again at once: a
    retry would claim what it cannot do. Say what holds it and when it goes instead."""
    waiting = waiting_reason(process) if process.held_by == Hold.CIRCUIT else None
    if waiting is not None and waiting.case in (Case.HELD, Case.PAUSED):
        return Refusal(
            "its circuit still holds it, so retrying now would change nothing",
            detail=waiting.reason,
            url=waiting.url,
        )
    return None


def compensate(process, now: datetime) -> Refusal | None:
    if process.run_status == RunStatus.FINISHED or process.direction == Direction.COMPENSATE:
        return Refusal(f"is {process.state}: there is nothing to compensate")
    return running(process, now)


def resolve(process) -> Refusal | None:
    if not process.needs_attention:
        return Refusal("does not need attention")
    return None
