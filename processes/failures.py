"""Decide what a failed attempt leads to: a retry after backoff, compensation, or a person.

Retryable errors (and unknown ones, which may be transient) back off and retry; a forward step
that exhausts its retries compensates or raises needs-attention as its policy says; a permanent
error compensates at once; a compensation that cannot finish is never dropped: it raises
needs-attention.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction

from processes import attention, conf, journal, progress, sweeper
from processes.exceptions import PayloadTooLarge
from processes.models import AttemptOutcome, Direction, EventKind, StepAttempt
from processes.workflow import OnExhausted, Step, Workflow

logger = logging.getLogger("processes.failures")


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"


def attempt_failed(
    workflow: Workflow,
    process,
    step: Step,
    error: BaseException,
    now: datetime,
    *,
    backoff_as: int | None = None,
) -> None:
    """Retry after a backoff, give up, or ask a person. `backoff_as`: back off as after that
    attempt rather than after the process's own count (flow control's say, processes.flow)."""
    forward = process.direction == Direction.FORWARD
    policy = step.retry if forward else step.undo_retry
    process.last_error = describe(error)
    permanent = policy.is_permanent(error)
    what = step.name if forward else f"undo of {step.name}"
    if isinstance(error, PayloadTooLarge):  # the same result would come back: ask a person
        attention.raise_attention(process, f"{what}: {process.last_error}")
        return
    budget = policy.max_attempts
    if not permanent and process.attempts >= budget:
        budget += free_abandoned_attempts(process, step)
    if not permanent and process.attempts < budget:
        delay = policy.delay(backoff_as or process.attempts)
        due = now + timedelta(seconds=delay)
        if not (forward and process.deadline_at and due > process.deadline_at):
            process.next_run_at = due
            transaction.on_commit(sweeper.ensure_sweeper, robust=True)
            journal.note(
                process,
                EventKind.RETRY_SCHEDULED,
                f"attempt {process.attempts}/{budget} of {what} failed "
                f"({process.last_error}); next attempt in {delay:.1f}s",
            )
            return
    if permanent:
        reason = f"{what} failed permanently: {process.last_error}"
    elif process.attempts >= budget:
        reason = f"{what} gave up after {process.attempts} attempts: {process.last_error}"
    else:
        reason = f"{what} ran past its deadline: {process.last_error}"
    give_up(workflow, process, step, reason=reason, permanent=permanent, now=now)


def free_abandoned_attempts(process, step: Step) -> int:
    """Attempts of the step whose worker died (a crash, a deploy, a kill) do not use up its
    retries, up to FREE_ABANDONED_ATTEMPTS; past that, a step that kills every worker running
    it counts as failing, so it still ends as its policy says. Asked only at the last retry."""
    abandoned = StepAttempt.objects.filter(
        process_id=process.pk, step=step.name, direction=process.direction, outcome=AttemptOutcome.ABANDONED
    ).count()
    return min(abandoned, conf.get("FREE_ABANDONED_ATTEMPTS"))


def give_up(workflow: Workflow, process, step: Step, *, reason: str, permanent: bool, now: datetime) -> None:
    """No more automatic attempts at the current step: compensate or call a person."""
    forward = process.direction == Direction.FORWARD
    policy = step.retry if forward else step.undo_retry
    logger.warning("%s %s: %s", process.label(), process.pk, reason)
    if forward and (permanent or policy.on_exhausted == OnExhausted.COMPENSATE):
        # After a permanent refusal nothing happened; after exhausted retries it may have.
        progress.begin_compensation(workflow, process, reason=reason, include_current=not permanent, now=now)
    else:
        attention.raise_attention(process, reason)
