"""One attempt at a step: the context its code gets, what its call came back with, and the
fields of its row in the journal (StepAttempt).

processes.runner makes the attempts; an operator doing a step by hand (processes.interventions)
or a person's answer to a wait (processes.control) give the step's code the same context.
"""

from dataclasses import dataclass
from typing import Any

from processes.models.journal import AttemptOutcome
from processes.models.process import Direction
from processes.workflow import Step, StepContext


@dataclass
class Outcome:
    """What an attempt's call came back with: a result or an error, and how long it took."""

    result: Any = None
    error: BaseException | None = None
    duration_ms: int = 0
    payload: Any = None  # the result as the journal stores it (processes.payloads)
    service_failed: bool = False  # the call failed as a sick service fails (what circuits count)

    @property
    def ok(self) -> bool:
        return self.error is None


def context_for(process, step: Step) -> StepContext:
    """What the step's code gets for the process's current attempt: the same idempotency key
    on every attempt of the step, another for its undo; a step redone n times (processes.redo)
    has keys of its own, ending `:redo<n>`."""
    base = f"{process.label()}:{process.pk}:{step.name}"
    redone = (process.redo_counts or {}).get(step.name, 0)
    if redone:
        base = f"{base}:redo{redone}"
    undoing = process.direction != Direction.FORWARD
    return StepContext(
        process_label=process.label(),
        process_id=process.pk,
        step=step.name,
        direction=process.direction,
        attempt=process.attempts,
        idempotency_key=f"{base}:undo" if undoing else base,
        forward_key=base,
        attempt_timeout=step.attempt_timeout,
    )


def started_fields(process, ctx: StepContext, worker: str, now) -> dict:
    """The fields of the attempt's row when it starts (its StepAttempt, in the journal)."""
    return {
        "process_type": process.label(),
        "process_id": process.pk,
        "step": ctx.step,
        "direction": ctx.direction,
        "attempt": ctx.attempt,
        "idempotency_key": ctx.idempotency_key,
        "worker": worker,
        "fence": process.fence,
        "started_at": now,
    }


def finished_fields(outcome: Outcome, now) -> dict:
    """The fields of the attempt's row when it ends, with what its call came back with."""
    error = outcome.error
    return {
        "finished_at": now,
        "duration_ms": outcome.duration_ms,
        "outcome": AttemptOutcome.SUCCEEDED if error is None else AttemptOutcome.FAILED,
        "error_class": "" if error is None else f"{type(error).__module__}.{type(error).__qualname__}",
        "error_message": "" if error is None else str(error)[:2000],
        "result": outcome.payload if error is None else None,
        "service_failed": outcome.service_failed,
    }
