"""Move a locked process between steps: forward, parked on a person, or undoing in reverse.

Every function here works on a process row the caller holds locked and saves afterwards; none
does I/O. They set the engine's bookkeeping and call the workflow's FSM transitions.
"""

from datetime import datetime

from processes import journal
from processes.models.process import Direction, RunStatus
from processes.workflow import Step, WaitStep, Workflow


def enter_step(process, step: Step, now: datetime) -> None:
    """Make `step` the current one, due at once, with a fresh attempt count."""
    process.step = step.name
    process.attempts = 0
    process.next_run_at = now
    process.step_started_at = now
    process.last_error = ""
    process.stop_holding()  # a process is held at one step only
    forward = process.direction == Direction.FORWARD
    process.deadline_at = now + step.deadline if forward and step.deadline else None


def start(workflow: Workflow, process, now: datetime) -> None:
    process.workflow_version = workflow.version
    process.direction = Direction.FORWARD
    process.run_status = RunStatus.READY
    process.completed_steps = []
    enter_step(process, workflow.first(), now)


def step_succeeded(workflow: Workflow, process, step: Step, now: datetime) -> None:
    """Apply the success of the current step's attempt: park, go on, or undo the next one."""
    if process.direction == Direction.COMPENSATE:
        process.completed_steps = process.completed_steps[:-1]
        next_undo(workflow, process, now)
    elif process.direction == Direction.REDO:
        redo_forward(process, step, now)
    elif isinstance(step, WaitStep) and process.run_status != RunStatus.WAITING and not step.settled(process):
        park(process, step, now)
    else:
        complete_forward(workflow, process, step, now)


def park(process, step: WaitStep, now: datetime) -> None:
    """Wait for a person until the step's deadline; timers and the deadline wake the sweeper
    (processes.waiting)."""
    process.run_status = RunStatus.WAITING
    process.deadline_at = now + step.timeout
    rearm(process, step)


def rearm(process, step: WaitStep) -> None:
    """Point `next_run_at` at the earliest pending timer or the deadline."""
    pending = [at for at in step.timers(process).values() if at is not None]
    process.next_run_at = min([process.deadline_at, *pending])


def complete_forward(workflow: Workflow, process, step: Step, now: datetime) -> None:
    process.completed_steps = [*process.completed_steps, step.name]
    process.run_status = RunStatus.READY
    following = workflow.after(step.name)
    if following is None:
        finish(process)
    else:
        enter_step(process, following, now)


def redo_forward(process, step: Step, now: datetime) -> None:
    """The step was undone to be redone (processes.redo): take the process back to the state
    before it, and do it again, under keys of its own."""
    if process.completed_steps[-1:] == [step.name]:
        process.completed_steps = process.completed_steps[:-1]
        with journal.because(f"{step.name} undone, to be done again", step=step.name):
            getattr(process, step.undone_transition)()
    counts = process.redo_counts or {}
    process.redo_counts = {**counts, step.name: counts.get(step.name, 0) + 1}
    process.direction = Direction.FORWARD
    enter_step(process, step, now)


def begin_compensation(
    workflow: Workflow, process, *, reason: str, include_current: bool, now: datetime
) -> None:
    """Turn the process around: undo its completed steps in reverse order.

    `include_current` also undoes the step that was running, for when its effect may have
    happened although we never saw it succeed (an unresolved timeout); undo calls are made to
    tolerate an effect that never happened.
    """
    current = process.step
    maybe_done = include_current and current and current not in process.completed_steps
    if maybe_done and workflow.step(current).compensable:
        process.completed_steps = [*process.completed_steps, current]
    with journal.because(reason, step=current):
        getattr(process, workflow.begin_compensation)()
    process.direction = Direction.COMPENSATE
    process.run_status = RunStatus.READY
    next_undo(workflow, process, now)


def undo_plan(workflow: Workflow, process) -> list[Step]:
    """The steps `begin_compensation(include_current=True)` would undo, latest first: the
    completed ones and the current one (its effect may have happened), those with an undo."""
    names = list(process.completed_steps)
    if process.step and process.step not in names and process.direction == Direction.FORWARD:
        names.append(process.step)
    return [step for step in map(workflow.step, reversed(names)) if step.compensable]


def next_undo(workflow: Workflow, process, now: datetime) -> None:
    """Enter the latest completed step that has something to undo, or finish as cancelled."""
    while process.completed_steps:
        step = workflow.step(process.completed_steps[-1])
        if step.compensable:
            enter_step(process, step, now)
            return
        process.completed_steps = process.completed_steps[:-1]
    with journal.because("every completed step was undone"):
        getattr(process, workflow.finish_compensation)()
    finish(process)


def finish(process) -> None:
    process.stop_holding()
    process.run_status = RunStatus.FINISHED
    process.step = ""
    process.next_run_at = None
    process.deadline_at = None


def is_due(process, now: datetime) -> bool:
    return process.next_run_at is not None and process.next_run_at <= now and not process.needs_attention
