"""Waiting on a person: park a process, fire its human-scale timers, time it out.

A wait step can declare named timers (a warning, an escalation, a claim held too long) besides
its final deadline. The engine keeps `next_run_at` at the earliest of them, so the sweeper
fires each from the same partial index as everything else; no job is scheduled per task.
"""

import logging
from datetime import datetime

from processes import attention, journal, progress
from processes.models import EventKind, RunStatus
from processes.workflow import OnExhausted, WaitStep, Workflow

logger = logging.getLogger("processes.waiting")


def park(process, step: WaitStep, now: datetime) -> None:
    """Wait for a person until the step's deadline; timers and the deadline wake the sweeper."""
    process.run_status = RunStatus.WAITING
    process.deadline_at = now + step.timeout
    rearm(process, step)


def rearm(process, step: WaitStep) -> None:
    """Point `next_run_at` at the earliest pending timer or the deadline (call under the lock)."""
    pending = [at for at in step.timers(process).values() if at is not None]
    process.next_run_at = min([process.deadline_at, *pending])


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
    rearm(process, step)


def give_up(workflow: Workflow, process, step: WaitStep, *, reason: str, policy: str, now: datetime) -> None:
    """End the wait unsuccessfully: compensate, or hand the process to an operator."""
    process.last_error = reason
    logger.warning("%s %s: %s", process.label(), process.pk, reason)
    if policy == OnExhausted.COMPENSATE:
        progress.begin_compensation(workflow, process, reason=reason, include_current=True, now=now)
    else:
        attention.raise_attention(process, reason)
