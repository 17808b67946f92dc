"""What a client may see of an order's journal: its steps and its transitions, in plain words.

Built from the engine's journal (step attempts and transitions, attached by
`selectors.order_journal_attach`) and the order's bookkeeping. Internal detail stays inside:
no operator or worker names, no exception text from the services we call.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import models

from processes.models.journal import ActorType, AttemptOutcome
from processes.models.process import Direction, RunStatus
from processes.workflow import Step, registry


class StepStatus(models.TextChoices):
    PENDING = "pending", "Not started yet"
    IN_PROGRESS = "in_progress", "Running, or waiting to retry"
    WAITING = "waiting", "Waiting for a person (the warehouse pick)"
    SUCCEEDED = "succeeded", "Done"
    FAILED = "failed", "Could not be done; the order is cancelled"
    UNDOING = "undoing", "Being undone"
    UNDONE = "undone", "Undone"
    SKIPPED = "skipped", "Never run: the order was cancelled first"


@dataclass(frozen=True)
class StepView:
    name: str
    status: str
    attempts: int
    last_error: str | None
    finished_at: datetime | None


@dataclass(frozen=True)
class EventView:
    at: datetime
    from_status: str | None
    to_status: str
    actor: str
    reason: str


# What a client is told about a failed attempt, by the error's class name; anything else is internal.
PUBLIC_ERRORS = {
    "OutOfStock": "Not enough stock to fill the order.",
    "FraudDeclined": "The order was declined by our fraud check.",
    "ServiceUnavailable": "A service we depend on was unavailable.",
    "ServiceTimeout": "A service we depend on did not answer in time.",
    "LeaseExpired": "The attempt was interrupted.",
}
INTERNAL_ERROR = "An internal error occurred."

# The journal's first line, which the engine writes when it creates the order (no transition).
CREATED = "Order received."
UNDONE_OUTCOMES = (AttemptOutcome.FAILED, AttemptOutcome.ABANDONED, AttemptOutcome.LEASE_LOST)


def public_error(attempt) -> str:
    name = attempt.error_class.rpartition(".")[2]
    if name == "PaymentDeclined":
        reason = f" ({attempt.error_message})" if attempt.error_message else ""
        return f"The payment was declined{reason}."
    return PUBLIC_ERRORS.get(name, INTERNAL_ERROR)


def order_steps(order) -> list[StepView]:
    """Every step of the order's workflow with its status, from the order and its journal."""
    workflow = registry.for_process(order)
    return [_step_view(order, step, workflow) for step in workflow.steps]


def order_events(order) -> list[EventView]:
    """The order's transitions as its client may read them."""
    workflow, words = registry.for_process(order), _client_words(type(order))
    return [
        EventView(
            at=event.created_at,
            from_status=event.from_state or None,
            to_status=event.to_state,
            actor=event.actor_type,
            reason=_public_reason(order, event, workflow, words),
        )
        for event in order.journal_transitions
    ]


def _step_view(order, step: Step, workflow) -> StepView:
    mine = [attempt for attempt in order.journal_attempts if attempt.step == step.name]
    forward = [attempt for attempt in mine if attempt.direction == Direction.FORWARD]
    undo = [attempt for attempt in mine if attempt.direction == Direction.COMPENSATE]
    status = _status(order, step, forward, undo)
    relevant = undo if status in (StepStatus.UNDOING, StepStatus.UNDONE) else forward
    return StepView(
        name=step.name,
        status=status,
        attempts=len(relevant),
        last_error=_last_error(relevant),
        finished_at=_finished_at(order, step, status, forward, undo, workflow),
    )


def _status(order, step: Step, forward: list, undo: list) -> str:
    current = order.step == step.name and order.run_status != RunStatus.FINISHED
    if order.direction == Direction.REDO and current:
        return StepStatus.IN_PROGRESS  # being made again (a new address: the label)
    if order.direction != Direction.COMPENSATE:
        if step.name in order.completed_steps:
            return StepStatus.SUCCEEDED
        if current:
            return StepStatus.WAITING if order.run_status == RunStatus.WAITING else StepStatus.IN_PROGRESS
        return StepStatus.PENDING
    if current:
        return StepStatus.UNDOING
    if _succeeded(undo):
        return StepStatus.UNDONE
    if _succeeded(forward):
        return StepStatus.SUCCEEDED  # done, and not (yet) undone
    return StepStatus.FAILED if forward else StepStatus.SKIPPED


def _finished_at(order, step: Step, status: str, forward: list, undo: list, workflow) -> datetime | None:
    if status == StepStatus.SUCCEEDED:
        # A step is done when its transition is made: for a person's step, when they answered.
        engine = (workflow.begin_compensation, workflow.finish_compensation)
        done = [e for e in order.journal_transitions if e.step == step.name and e.transition not in engine]
        return done[-1].created_at if done else _latest_finish(_succeeded(forward))
    if status == StepStatus.UNDONE:
        return _latest_finish(_succeeded(undo))
    if status == StepStatus.FAILED:
        return _latest_finish(forward)
    return None


def _last_error(attempts: list) -> str | None:
    finished = [attempt for attempt in attempts if attempt.outcome != AttemptOutcome.RUNNING]
    if not finished or finished[-1].outcome not in UNDONE_OUTCOMES:
        return None
    return public_error(finished[-1])


def _public_reason(order, event, workflow, words: dict[str, str]) -> str:
    if event.transition != workflow.begin_compensation:
        return words.get(event.transition) or _in_words(event.transition)
    if event.actor_type == ActorType.CLIENT:
        return f"Cancellation requested by you: {event.reason}"
    if event.actor_type == ActorType.OPERATOR:
        return "Cancelled by our customer service; undoing what was done."
    failed = [
        attempt
        for attempt in order.journal_attempts
        if attempt.step == event.step
        and attempt.direction == Direction.FORWARD
        and attempt.outcome in UNDONE_OUTCOMES
        and attempt.started_at <= event.created_at
    ]
    cause = public_error(failed[-1]) if failed else "It could not be done in time."
    return f"Step {event.step or 'unknown'} failed: {cause} Undoing what was done."


def _client_words(model) -> dict[str, str]:
    """What the client reads for each transition of the model: the words the transition declares
    (`custom={"client_words": ...}` on the model), and for its creation the model's
    `client_created_words`, or CREATED (an order's)."""
    transitions = model._meta.get_field("state").get_all_transitions(model)
    declared = {t.name: t.custom["client_words"] for t in transitions if "client_words" in t.custom}
    return {"create": getattr(model, "client_created_words", CREATED), **declared}


def _in_words(transition: str) -> str:
    return f"{transition.replace('_', ' ').capitalize()}."


def _succeeded(attempts: list) -> list:
    return [attempt for attempt in attempts if attempt.outcome == AttemptOutcome.SUCCEEDED]


def _latest_finish(attempts: list) -> datetime | None:
    times = [attempt.finished_at for attempt in attempts if attempt.finished_at]
    return max(times) if times else None
