"""Waiting on a person: fire a parked process's human-scale timers, time it out.

A wait step can declare named timers (a warning, an escalation, a claim held too long) besides
its final deadline. The engine keeps `next_run_at` at the earliest of them (processes.progress
parks a process and re-arms it), so the sweeper fires each from the same partial index as
everything else; no job is scheduled per task.
"""

import logging
from datetime import datetime

from processes import attention, journal, progress
from processes.models import EventKind
from processes.workflow import OnExhausted, WaitStep, Workflow

logger = logging.getLogger("processes.waiting")


def wake(workflow: Workflow, process, step: WaitStep, ctx, now: datetime) -> None:
    """The sweeper woke a waiting process: time it out, or fire the timers that are due."""
    if now >= process.deadline_at:
        reason = f"{step.name} was not done by its deadline {process.deadline_at.isoformat()}"
        give_up(workflow, process, step, reason=reason, policy=step.on_timeout, now=now)
        return
    due = sorted((at, name) for name, at in step.timers(process).items() if at is not None and at <= now)
    for _, name in due:
        with journal.because(f"{step.name}: {name} timer", step=step.name):
            step.on_timer(process, name, ctx)
        journal.note(process, EventKind.NOTE, f"{step.name}: {name} timer fired")
    progress.rearm(process, step)


def give_up(workflow: Workflow, process, step: WaitStep, *, reason: str, policy: str, now: datetime) -> None:
    """End the wait unsuccessfully: compensate, or hand the process to an operator."""
    process.last_error = reason
    logger.warning("%s %s: %s", process.label(), process.pk, reason)
    if policy == OnExhausted.COMPENSATE:
        progress.begin_compensation(workflow, process, reason=reason, include_current=True, now=now)
    else:
        attention.raise_attention(process, reason)
