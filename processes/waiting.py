"""Waiting on a person: fire a parked process's human-scale timers, time it out.

A wait step can declare named timers (a warning, an escalation, a claim held too long) besides
its final deadline. The engine keeps `next_run_at` at the earliest of them (processes.progress
parks a process and re-arms it), so the sweeper fires each from the same partial index as
everything else; no job is scheduled per task.
"""

from datetime import datetime

from processes import clock, failures, journal, progress
from processes.models.journal import EventKind
from processes.workflow import WaitStep, Workflow


def wake(workflow: Workflow, process, step: WaitStep, ctx, now: datetime) -> None:
    """The sweeper woke a waiting process: time it out, or fire the timers that are due."""
    if now >= process.deadline_at:
        reason = f"{step.name} was not done by its deadline {clock.written(process.deadline_at)}"
        failures.give_up(workflow, process, step, reason=reason, then=step.on_timeout, now=now)
        return
    due = sorted((at, name) for name, at in step.timers(process).items() if at is not None and at <= now)
    for _, name in due:
        with journal.because(f"{step.name}: {name} timer", step=step.name):
            step.on_timer(process, name, ctx)
        journal.note(process, EventKind.NOTE, f"{step.name}: {name} timer fired")
    progress.rearm(process, step)
