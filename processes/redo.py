"""Redo one step of a process: undo it, then do it again with new data and new keys.

For a step whose input changed after it ran (an order's shipping address after its label was
made): the operation locks the process row and turns the process to `Direction.REDO` at that
step; the runner then undoes the step as compensation does (its `undo_call` outside any
transaction, under a lease, with attempts and journal rows, then its `undo_record`), and on
success takes the process back to the state before the step (`Step.undone_transition`) and runs
the step forward again under idempotency keys that carry its redo count (`:redo<n>`). A worker
dying between the undo and the new call leaves the process at one of those two points in its
row, so its next claim carries on from there with the same key: one undo, one new effect.

A step may be redone while it is the process's current step (a call that failed, or may have
had an effect, such as an address the carrier refused), or when it is the last completed step
and the process waits on a person's task after it that nobody took up yet
(`WaitStep.withdraw_refusal`): that task is withdrawn in the same transaction, so a person
claiming it afterwards finds it closed, and one who claimed it first makes the redo refused.
Any later step is the point of no return.
"""

from django.db import transaction

from processes import attention, clock, journal, leases, progress
from processes.attempts import context_for
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.models.journal import EventKind
from processes.models.process import Direction, RunStatus
from processes.wakeup import wake_on_commit
from processes.workflow import Step, WaitStep, Workflow, registry


def process_redo_step(*, model, process_id, step: str, actor: Actor, reason: str):
    """Undo `step` and do it again (in the background), or raise ProcessStateError saying why
    not. Call inside or outside a transaction; the row is locked here."""
    with transaction.atomic(), journal.acting(actor, reason, step=step):
        process = model.objects.select_for_update().get(pk=process_id)
        workflow = registry.for_process(process)
        now = clock.now()
        refusal = redo_refusal(workflow, process, step, now)
        if refusal:
            raise ProcessStateError(f"{type(process).__name__} {process.pk} cannot redo {step}: {refusal}.")
        leases.abandon(process, now)  # a lease that ran out: its worker is gone
        target = workflow.step(step)
        if process.step != step:
            _withdraw(workflow.step(process.step), process, step)
        if process.needs_attention:
            attention.clear_attention(process, f"redo of {step} requested: {reason}")
        journal.note(process, EventKind.OPERATOR_ACTION, f"redo {step}: {reason}", step=step)
        process.direction = Direction.REDO
        process.run_status = RunStatus.READY
        progress.enter_step(process, target, now)
        wake_on_commit(process)
        process.save()
        return process


def redo_refusal(workflow: Workflow, process, step: str, now=None) -> str:
    """Why `step` of the process cannot be redone now ('' when it can): for the operation under
    the row lock, and for showing an action (advisory there)."""
    now = now or clock.now()
    try:
        target = workflow.step(step)
    except LookupError:
        return f"its workflow has no step {step!r}"
    if not target.undone_transition:
        return f"its workflow does not let {step} be redone"
    if process.run_status == RunStatus.FINISHED:
        return "it is finished"
    if process.direction == Direction.COMPENSATE:
        return "it is being undone"
    if leases.held(process, now):
        return f"{process.step} is running right now; try again in a moment"
    if process.step == step:
        return "" if process.run_status == RunStatus.READY else f"it waits at {step}"
    return _past_refusal(workflow, process, target)


def _past_refusal(workflow: Workflow, process, target: Step) -> str:
    """The step is behind the process: only the last completed one, with the process waiting
    on a task nobody took up (or not yet started) at the step right after it."""
    following = workflow.after(target.name)
    if process.completed_steps[-1:] != [target.name] or following is None or process.step != following.name:
        return f"it is past {target.name} (at {process.step or 'its end'})"
    if process.direction != Direction.FORWARD:
        return f"it is redoing {process.step}"
    if process.needs_attention:
        return f"it needs attention at {process.step}: settle that first"
    if process.run_status == RunStatus.WAITING:
        if not isinstance(following, WaitStep) or not following.undone_transition:
            return f"its workflow does not let {following.name} be withdrawn"
        return following.withdraw_refusal(process)
    if process.attempts and following.calls_out:
        return f"{following.name} has begun"
    return ""


def _withdraw(current: Step, process, step: str) -> None:
    """Take the process back over the step after the one redone: withdraw its person's task
    (its undo_record) and go back to the state before it."""
    if process.run_status != RunStatus.WAITING:
        return  # not begun: nothing to withdraw
    with journal.because(f"{current.name} withdrawn to redo {step}", step=current.name):
        current.undo_record(process, None, context_for(process, current))
        getattr(process, current.undone_transition)()
