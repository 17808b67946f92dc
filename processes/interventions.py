"""What an operator (or a client, for cancel) may do to a process by hand.

Each operation locks the process row, refuses with ProcessStateError when the current state
does not allow it, records the operator and the reason in the journal, saves and wakes the
process after commit. Permissions are checked by the interfaces that call these.
"""

from django.db import transaction

from processes import attention, clock, journal, leases, progress, refusals
from processes.attempts import context_for
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.models.journal import EventKind
from processes.models.process import Direction, RunStatus
from processes.wakeup import wake_on_commit
from processes.workflow import WaitStep, registry


def process_retry_now(*, model, process_id, actor: Actor, reason: str, reset_attempts: bool = False):
    """Clear the backoff (and the needs-attention flag) so the current step runs at once."""
    with transaction.atomic(), journal.acting(actor, reason):
        process = _lock(model, process_id)
        _refuse(process, refusals.retry(process, clock.now()))
        leases.abandon(process, clock.now())  # a lease that ran out: its worker is gone
        if reset_attempts:
            process.attempts = 0
        if process.needs_attention:
            attention.clear_attention(process, f"retry requested: {reason}")
        journal.note(process, EventKind.OPERATOR_ACTION, f"retry {process.step} now: {reason}")
        process.next_run_at = clock.now()
        return _save_and_wake(process)


def process_compensate(*, model, process_id, actor: Actor, reason: str):
    """Undo the completed steps in reverse, then cancel, by an operator's or client's decision."""
    with transaction.atomic(), journal.acting(actor, reason):
        process = _lock(model, process_id)
        workflow = registry.for_process(process)
        _refuse(process, refusals.compensate(process, clock.now()))
        leases.abandon(process, clock.now())  # a lease that ran out: its worker is gone
        if process.needs_attention:
            attention.clear_attention(process, f"compensation requested: {reason}")
        progress.begin_compensation(workflow, process, reason=reason, include_current=True, now=clock.now())
        return _save_and_wake(process)


def process_skip_step(*, model, process_id, step: str, result, actor: Actor, reason: str):
    """Mark the current forward step done by hand with the result the operator entered
    (for example a label made on the carrier's own site), and go on with the next step."""
    with transaction.atomic(), journal.acting(actor, reason, step=step):
        process = _lock(model, process_id)
        workflow = registry.for_process(process)
        if process.step != step or process.direction != Direction.FORWARD:
            raise ProcessStateError(
                f"{_name(process)} is not at step {step!r} (it is at {process.step or 'none'})."
            )
        _refuse_if_running(process)
        current, now = workflow.step(step), clock.now()
        journal.note(process, EventKind.OPERATOR_ACTION, f"{step} done by hand: {reason}")
        if isinstance(current, WaitStep) and process.run_status == RunStatus.WAITING:
            current.on_signal(process, result or {}, context_for(process, current))
        else:
            current.record(process, result, context_for(process, current))
        if process.needs_attention:
            attention.clear_attention(process, f"{step} skipped by hand")
        progress.complete_forward(workflow, process, current, now)
        return _save_and_wake(process)


def process_resolve_attention(*, model, process_id, actor: Actor, reason: str):
    """Clear needs-attention and let the engine go on: the current step runs again at once,
    or a wait gets a fresh deadline and its step settles what held its person back."""
    with transaction.atomic(), journal.acting(actor, reason):
        process = _lock(model, process_id)
        workflow = registry.for_process(process)
        _refuse(process, refusals.resolve(process))
        attention.clear_attention(process, f"resolved: {reason}")
        now = clock.now()
        if process.run_status == RunStatus.WAITING:
            step = workflow.step(process.step)
            step.on_resolved(process, context_for(process, step))
            progress.park(process, step, now)
        elif process.run_status == RunStatus.READY and process.step:
            process.next_run_at = now
        return _save_and_wake(process)


def _lock(model, process_id):
    return model.objects.select_for_update().get(pk=process_id)


def _refuse(process, refusal: refusals.Refusal | None) -> None:
    """Raise the refusal: the same check a bulk operation's preview makes (processes.refusals)."""
    if refusal is not None:
        raise refusal.error(process)


def _refuse_if_running(process) -> None:
    _refuse(process, refusals.running(process, clock.now()))
    leases.abandon(process, clock.now())  # a lease that ran out: its worker is gone


def _save_and_wake(process):
    if process.next_run_at is not None:
        wake_on_commit(process)
    process.save()
    return process


_name = refusals.name
