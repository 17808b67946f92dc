"""The engine's public operations: start a process, deliver a signal, and operator controls.

Each locks the process row first, checks that the operation is allowed in the current state,
changes it, saves (journal included) and sends the wake-up after commit, in one transaction.
"""

from django.db import transaction

from processes import attention, clock, journal, progress
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.models import Direction, EventKind, RunStatus
from processes.wakeup import wake_on_commit
from processes.workflow import WaitStep, registry


def process_start(*, process, actor: Actor, reason: str = "created") -> None:
    """Save a new process and make its first step due; call inside the creating transaction."""
    workflow = registry.for_model(process.label())
    with journal.acting(actor, reason):
        progress.start(workflow, process, clock.now())
        wake_on_commit(process)
        process.save()


def process_signal(*, model, process_id, step: str, payload: dict, actor: Actor, reason: str):
    """Deliver a person's answer to a waiting step; the next step runs right after commit."""
    workflow = registry.for_model(model._meta.label_lower)
    with transaction.atomic(), journal.acting(actor, reason, step=step):
        process = model.objects.select_for_update().get(pk=process_id)
        current = workflow.step(process.step) if process.step else None
        if process.run_status != RunStatus.WAITING or current is None or current.name != step:
            raise ProcessStateError(f"{model.__name__} {process_id} is not waiting on {step!r}.")
        assert isinstance(current, WaitStep)
        now = clock.now()
        current.on_signal(process, payload, _context(process, current))
        if process.needs_attention:
            attention.clear_attention(process, f"{step} done after all: {reason}")
        progress.complete_forward(workflow, process, current, now)
        wake_on_commit(process)
        process.save()
        return process


def process_retry_now(*, model, process_id, actor: Actor, reason: str, reset_attempts: bool = False):
    """Clear the backoff (and the needs-attention flag) so the current step runs at once."""
    with transaction.atomic(), journal.acting(actor, reason):
        process = model.objects.select_for_update().get(pk=process_id)
        if process.run_status != RunStatus.READY or not process.step:
            raise ProcessStateError(f"{model.__name__} {process_id} has no step to retry.")
        if process.lease_owner and process.lease_until and process.lease_until > clock.now():
            raise ProcessStateError(f"{model.__name__} {process_id} is running {process.step} right now.")
        if reset_attempts:
            process.attempts = 0
        if process.needs_attention:
            attention.clear_attention(process, f"retry requested: {reason}")
        journal.note(process, EventKind.OPERATOR_ACTION, f"retry {process.step} now: {reason}")
        process.next_run_at = clock.now()
        wake_on_commit(process)
        process.save()
        return process


def process_compensate(*, model, process_id, actor: Actor, reason: str):
    """Undo the completed steps in reverse, by an operator's decision."""
    workflow = registry.for_model(model._meta.label_lower)
    with transaction.atomic(), journal.acting(actor, reason):
        process = model.objects.select_for_update().get(pk=process_id)
        if process.run_status == RunStatus.FINISHED or process.direction == Direction.COMPENSATE:
            raise ProcessStateError(
                f"{model.__name__} {process_id} is {process.state}: nothing to compensate."
            )
        if process.needs_attention:
            attention.clear_attention(process, f"compensation requested: {reason}")
        process.lease_owner, process.lease_until = "", None
        progress.begin_compensation(workflow, process, reason=reason, include_current=True, now=clock.now())
        wake_on_commit(process)
        process.save()
        return process


def _context(process, step):
    from processes.runner import context_for

    return context_for(process, step)
