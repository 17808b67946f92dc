"""A step's lease: which worker makes the step's call, until when, and what its end leaves.

A worker takes the lease in the transaction that claims the call (processes.runner) and gives
it back in the one that applies the answer, if the lease is still its own (same owner, same
fence). Until `lease_until` the holder is taken to be alive, and nothing else may touch the
step: not another worker, not an operator. Past it the holder is taken for dead (a crash, a
kill, a deploy): its attempt is abandoned, which does not use up the step's retries, and
whoever comes next (the runner, an operator's action, a move to another version) goes on.
"""

from datetime import datetime, timedelta

from processes import conf
from processes.models.journal import AttemptOutcome, StepAttempt


class LeaseExpired(Exception):
    """The worker that held the step's lease stopped answering (crash, kill, deploy)."""


def seconds(step) -> float:
    """How long a lease on the step's call lasts: the call's own timeout and a grace."""
    return step.attempt_timeout + conf.get("LEASE_GRACE")


def held(process, now: datetime) -> bool:
    """Whether a worker holds the process's lease now: the step's call is in flight."""
    return bool(process.lease_owner) and process.lease_until is not None and process.lease_until > now


def take(process, worker: str, step, now: datetime) -> int:
    """Lease the step's call to `worker`; returns the fence its answer must still find."""
    process.fence += 1
    process.lease_owner = worker
    process.lease_until = now + timedelta(seconds=seconds(step))
    return process.fence


def is_own(process, worker: str, fence: int) -> bool:
    """Whether the lease taken by `worker` with `fence` still holds (nobody took over since)."""
    return process.lease_owner == worker and process.fence == fence


def give_back(process) -> None:
    process.lease_owner, process.lease_until = "", None


def abandon(process, now: datetime) -> str:
    """Free a lease that ran out: its holder is gone, so its running attempt is abandoned.
    Returns the holder's name ('' when nobody held it)."""
    holder = process.lease_owner
    if holder:
        StepAttempt.objects.filter(
            process_id=process.pk, fence=process.fence, outcome=AttemptOutcome.RUNNING
        ).update(outcome=AttemptOutcome.ABANDONED, finished_at=now, error_class=LeaseExpired.__name__)
    give_back(process)
    return holder
