"""Decide what a failed attempt leads to: a retry after backoff, compensation, or a person.

Retryable errors (and unknown ones, which may be transient) back off and retry; a forward step
that exhausts its retries compensates or raises needs-attention as its policy says; a permanent
error compensates at once, or asks a person when its policy's `on_refusal` says so; a
compensation that cannot finish is never dropped: it raises needs-attention. Every step that
gives up, a call step or a wait step, whatever ended it, goes through `give_up`.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction

from processes import attention, conf, journal, progress, sweeper
from processes.exceptions import PayloadTooLarge
from processes.models.journal import AttemptOutcome, EventKind, StepAttempt
from processes.models.process import Direction
from processes.policies import OnExhausted
from processes.workflow import Step, Workflow

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
    why = process.last_error = describe(error)
    what = step.name if forward else f"undo of {step.name}"
    if isinstance(error, PayloadTooLarge):  # the same result would come back: ask a person
        attention.raise_attention(process, f"{what}: {why}")
        return
    if policy.is_permanent(error):  # a refusal: nothing happened at the step, nothing to undo there
        reason = f"{what} failed permanently: {why}"
        then, undo = policy.on_refusal, False
    else:
        budget = _budget(process, step, policy)
        if process.attempts >= budget:
            reason = f"{what} gave up after {process.attempts} attempts: {why}"
        elif _retry(process, what, budget, policy.delay(backoff_as or process.attempts), now):
            return
        else:
            reason = f"{what} ran past its deadline: {why}"
        then, undo = policy.on_exhausted, True  # its effect may have happened: undo it too
    give_up(workflow, process, step, reason=reason, then=then, now=now, undo_current=undo, error=why)


def _budget(process, step: Step, policy) -> int:
    """The step's attempts: its policy's, and from the last one on those its dead workers used."""
    if process.attempts < policy.max_attempts:
        return policy.max_attempts
    return policy.max_attempts + free_abandoned_attempts(process, step)


def _retry(process, what: str, budget: int, delay: float, now: datetime) -> bool:
    """Make the next attempt due after `delay` seconds; False when that is past the deadline."""
    due = now + timedelta(seconds=delay)
    if process.direction == Direction.FORWARD and process.deadline_at and due > process.deadline_at:
        return False
    process.next_run_at = due
    transaction.on_commit(sweeper.ensure_sweeper, robust=True)
    journal.note(
        process,
        EventKind.RETRY_SCHEDULED,
        f"attempt {process.attempts}/{budget} of {what} failed ({process.last_error}); "
        f"next attempt in {delay:.1f}s",
    )
    return True


def free_abandoned_attempts(process, step: Step) -> int:
    """Attempts of the step whose worker died (a crash, a deploy, a kill) do not use up its
    retries, up to FREE_ABANDONED_ATTEMPTS; past that, a step that kills every worker running
    it counts as failing, so it still ends as its policy says. Asked only at the last retry."""
    abandoned = StepAttempt.objects.filter(
        process_id=process.pk, step=step.name, direction=process.direction, outcome=AttemptOutcome.ABANDONED
    ).count()
    return min(abandoned, conf.get("FREE_ABANDONED_ATTEMPTS"))


def give_up(
    workflow: Workflow,
    process,
    step: Step,
    *,
    reason: str,
    then: str,
    now: datetime,
    undo_current: bool = True,
    error: str = "",
) -> None:
    """No more automatic attempts at the current step: undo the process, or call a person.

    `then` is what the step's policy says for this end (an `OnExhausted`): a call step's
    `retry.on_exhausted` when its retries or its deadline ran out, `retry.on_refusal` for a refusal
    (with `undo_current=False`: nothing happened at the step), a wait step's `on_timeout` or
    `on_problem`. A compensation that gives up always calls a person: nothing undoes an undo.
    `last_error` keeps the failed attempt's `error`, or says `reason` when no attempt failed
    (a deadline, a person's report)."""
    process.last_error = error or reason
    logger.warning("%s %s: %s", process.label(), process.pk, reason)
    if process.direction == Direction.FORWARD and then == OnExhausted.COMPENSATE:
        progress.begin_compensation(workflow, process, reason=reason, include_current=undo_current, now=now)
    else:
        attention.raise_attention(process, reason)
