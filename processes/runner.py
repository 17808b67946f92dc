"""Run a process's due steps: claim, call outside any transaction, apply under the lock.

The protocol for a step that calls another service:
1. claim: lock the row with SKIP LOCKED, take a lease (owner, expiry, fencing counter) and
   write the attempt row; commit.
2. call the service with no transaction open and no lock held, with the step's idempotency key
   (the same for every attempt of that step of that process).
3. apply: lock the row again, check the lease is still ours (same owner and fence), apply the
   result as an FSM transition plus journal rows, and commit.
A step with no external call (its work is ours, in the database) runs whole under the lock.
A worker dying mid-step leaves a lease that expires; the next claim counts the attempt as
lost and retries it with the same key, so nothing is done twice.

A worker chains the steps that are due at once (up to CHAIN_STEPS) without going back through
the queue, and does it in as few transactions as it can: the transaction that applies a call
also runs the in-database steps after it and claims the next call (1 and 3 above share a
commit), and saves the row once. Commits are what a step costs most.

The lease is processes.leases; an attempt's context and journal row, processes.attempts; what
a failure leads to, processes.failures; moving between steps, processes.progress.
"""

import logging
import math
import time
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from processes import (
    attempt_rows,
    clock,
    conf,
    failures,
    journal,
    leases,
    progress,
    row_lock,
    step_writes,
    waiting,
)
from processes.attempts import Outcome, context_for, finished_fields, started_fields
from processes.exceptions import PayloadTooLarge
from processes.flow import admission, limits
from processes.journal import Actor
from processes.models.journal import AttemptOutcome, EventKind, StepAttempt
from processes.models.process import Direction, RunStatus
from processes.payloads import step_payload
from processes.wakeup import wake_on_commit, worker_name
from processes.workflow import Step, StepContext, Workflow, registry

logger = logging.getLogger("processes.runner")


class _RecordFailed(Exception):
    """A record failed where rolling back its whole transaction is the savepoint."""

    def __init__(self, error: Exception):
        super().__init__(str(error))
        self.error = error


@dataclass
class Claim:
    """A claimed attempt: what the worker needs to make the call and apply its result."""

    workflow: Workflow
    process: Any
    step: Step
    ctx: StepContext
    worker: str
    fence: int
    attempt: StepAttempt
    probe: bool = False  # the attempt is its step's circuit probe (processes.flow)
    flow_key: str = ""  # the step's flow key for this call (Step.flow_key)

    @property
    def attempt_id(self) -> int:
        return self.attempt.pk


@dataclass
class Chain:
    """How many more steps a worker may handle on a process before it hands it back."""

    worker: str
    steps: int
    stop_at: float = math.inf  # time.monotonic() past which it hands the process back
    hand_back: bool = True  # whether running out with a step due enqueues the process
    handled: int = 0

    def may_go_on(self) -> bool:
        return self.handled < self.steps and time.monotonic() <= self.stop_at


def run_process(label: str, process_id, *, worker: str | None = None) -> int:
    """Run the process's due steps back to back (bounded); returns how many were handled."""
    workflow = registry.newest(label)  # its model; the claim picks the process's own version
    budget = time.monotonic() + conf.get("CHAIN_SECONDS")
    chain = Chain(worker or worker_name(), conf.get("CHAIN_STEPS"), stop_at=budget)
    with journal.acting(Actor.system()):
        turn = _claim(workflow, process_id, chain)
        while turn:
            # A Claim needs its external call; True: a step is due, to be claimed afresh.
            turn = _claim(workflow, process_id, chain) if turn is True else _apply(turn, perform(turn), chain)
    return chain.handled


def claim_step(workflow: Workflow, process_id, worker: str) -> "Claim | bool | None":
    """Claim the due process. Returns a Claim to perform, or whether it is due again when the
    work was done inside this transaction, or None when there is nothing to do here."""
    return _claim(workflow, process_id, Chain(worker, steps=1, hand_back=False))


def apply_outcome(claim: Claim, outcome: Outcome) -> bool:
    """Apply the call's outcome if our lease still holds; returns whether a step is due now."""
    return bool(_apply(claim, outcome, Chain(claim.worker, steps=0, hand_back=False)))


def _claim(workflow: Workflow, process_id, chain: Chain) -> "Claim | bool | None":
    model = workflow.model_class()
    with transaction.atomic():
        now = clock.now()
        process = row_lock.claim_due(model, process_id, now)
        if process is None:
            return None
        process.track_changes()
        if not _runnable(process):
            process.next_run_at = None
            step_writes.save(process)
            return None
        return _run_steps(_own_version(workflow, process), process, chain, now)


def _apply(claim: Claim, outcome: Outcome, chain: Chain) -> "Claim | bool":
    """Apply the call's outcome if our lease still holds, then go on along the chain."""
    try:
        return _apply_locked(claim, outcome, chain)
    except _RecordFailed as failed:
        # Its transaction rolled back whole, so the record left nothing: apply the failure.
        return _apply_locked(claim, Outcome(error=failed.error, duration_ms=outcome.duration_ms), chain)


def _apply_locked(claim: Claim, outcome: Outcome, chain: Chain) -> "Claim | bool":
    model = claim.workflow.model_class()
    with transaction.atomic():
        now = clock.now()
        process = row_lock.lock(model, claim.process.pk)
        process.track_changes()
        if not leases.is_own(process, claim.worker, claim.fence):
            # Someone took over after our lease expired; their attempt uses the same key.
            lost = {"outcome": AttemptOutcome.LEASE_LOST, "finished_at": now}
            lost["duration_ms"] = outcome.duration_ms
            StepAttempt.objects.filter(pk=claim.attempt_id).update(**lost)
            _log_attempt(process, claim.ctx, claim.worker, lost, level=logging.WARNING)
            return False
        leases.give_back(process)
        finished = None
        if outcome.service_failed:
            _apply_service_failure(claim, process, outcome, now)
        else:
            if claim.probe:
                admission.probe_answered(process, claim.step, claim.flow_key, now)
            # Nothing before the record needs keeping if it fails: no savepoint (see _apply).
            outcome = settle(claim.workflow, process, claim.step, claim.ctx, outcome, now, savepoint=False)
            finished = _attempt_finished(claim, process, outcome, now)  # written with the next
        # Its place under the service's limit, given back last: the limiter row is locked
        # after the circuit's, here as in a claim.
        gave_back = limits.holds_places(claim.step)
        if gave_back:
            limits.release(process, claim.step, claim.flow_key)
        # A transaction that touched a circuit or limiter row claims nothing more, so none
        # locks two.
        locked_flow = claim.probe or outcome.service_failed or gave_back
        return _run_steps(claim.workflow, process, chain, now, go_on=not locked_flow, finished=finished)


def _run_steps(
    workflow: Workflow, process, chain: Chain, now, *, go_on: bool = True, finished=None
) -> "Claim | bool":
    """Handle the locked process's due steps in this transaction until one must call out, none
    is due or the chain is spent; save the row once. Returns the Claim to perform, or whether a
    step is due now (and was neither claimed here nor handed back to the queue). The attempt
    this transaction `finished`, if any, is written with the ones it starts, in one statement."""
    attempts: list[StepAttempt] = []
    claim = None
    while go_on and claim is None and _runnable(process) and progress.is_due(process, now):
        if not chain.may_go_on():
            break
        chain.handled += 1
        now = clock.now()
        claim = _run_step(workflow, process, chain.worker, now, attempts)
    due = claim is None and progress.is_due(process, now)
    if due and chain.hand_back and not chain.may_go_on():
        wake_on_commit(process)  # the chain is spent: another task goes on, with the commit
        due = False
    step_writes.save(process, attempts, finished)
    return claim or due


def _runnable(process) -> bool:
    return not process.needs_attention and process.run_status != RunStatus.FINISHED and bool(process.step)


def _run_step(workflow: Workflow, process, worker: str, now, attempts: list) -> "Claim | None":
    """Take the due process's current step: a Claim when it must call out, None when the work
    was done here (a step in the database, a lost lease, a wake-up, a deadline, a hold)."""
    step = workflow.step(process.step)
    if leases.held(process, now):
        # Woken while its call is in flight (an operator's resume, a wake-up meant for those
        # waiting): the lease holder is alive; look again when its lease would end.
        process.next_run_at = process.lease_until
    elif process.lease_owner:
        _lease_expired(workflow, process, step, now)
    elif process.run_status == RunStatus.WAITING:
        waiting.wake(workflow, process, step, context_for(process, step), now)
    elif process.direction == Direction.FORWARD and process.deadline_at and now >= process.deadline_at:
        reason = f"{step.name} ran past its deadline {clock.written(process.deadline_at)}"
        failures.give_up(workflow, process, step, reason=reason, then=step.retry.on_exhausted, now=now)
    else:
        admitted = _admit(process, step, now)
        if not admitted.held:
            return _begin_attempt(workflow, process, step, worker, now, attempts, admitted)
    return None


def _own_version(workflow: Workflow, process) -> Workflow:
    """The workflow of the version the process runs on, whichever version the caller had."""
    if workflow.version == process.workflow_version:
        return workflow
    return registry.for_model(process.label(), process.workflow_version)


def _calls_out(process, step) -> bool:
    return step.calls_out if process.direction == Direction.FORWARD else step.undo_calls_out


def _admit(process, step, now) -> admission.Admission:
    """Ask the step's flow control, if it has any, whether this call may go now."""
    if (step.circuit is None and step.limit is None) or not _calls_out(process, step):
        return admission.FREE
    return admission.admit(process, step, now)


def _begin_attempt(
    workflow, process, step, worker, now, attempts, admitted: admission.Admission = admission.FREE
) -> "Claim | None":
    """Start an attempt: do a step in the database whole, or take the lease for its call. The
    attempt rows are inserted by the caller, together."""
    process.attempts += 1
    ctx = context_for(process, step)
    if not _calls_out(process, step):
        outcome = settle(workflow, process, step, ctx, Outcome(), now)
        finished = finished_fields(outcome, now)
        attempts.append(StepAttempt(**started_fields(process, ctx, worker, now), **finished))
        _log_attempt(process, ctx, worker, finished)
        return None
    fence = leases.take(process, worker, step, now)
    process.next_run_at = process.lease_until
    attempt = StepAttempt(**started_fields(process, ctx, worker, now), flow_key=admitted.key)
    attempts.append(attempt)
    return Claim(
        workflow, process, step, ctx, worker, fence, attempt, probe=admitted.probe, flow_key=admitted.key
    )


def perform(claim: Claim) -> Outcome:
    """Make the step's external call; no transaction is open and no lock is held here."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("A step's external call must never run inside a transaction.")
    call = claim.step.call if claim.ctx.direction == Direction.FORWARD else claim.step.undo_call
    started = time.monotonic()
    try:
        result = call(claim.process, claim.ctx)
    except Exception as error:  # every failure is classified by the step's policy
        failed = admission.is_service_failure(claim.step, claim.ctx.direction, error)
        return Outcome(error=error, duration_ms=_ms_since(started), service_failed=failed)
    return Outcome(result=result, duration_ms=_ms_since(started))


def _apply_service_failure(claim: Claim, process, outcome: Outcome, now) -> None:
    """A call failed the way a sick service fails: its circuit sees it first. If the circuit
    is (now) open the process waits for it; otherwise the step's retry policy decides."""
    _finish_attempt(claim, process, outcome, now)  # the circuit's window counts it
    error = outcome.error
    failed = admission.call_failed(
        process, claim.step, key=claim.flow_key, probe=claim.probe, error=error, now=now
    )
    if not failed.held:
        failures.attempt_failed(claim.workflow, process, claim.step, error, now, backoff_as=failed.backoff_as)


def _finish_attempt(claim: Claim, process, outcome: Outcome, now) -> None:
    attempt_rows.write([], _attempt_finished(claim, process, outcome, now))


def _attempt_finished(claim: Claim, process, outcome: Outcome, now) -> attempt_rows.Finished:
    """The claimed attempt's finished fields, logged; its row is the caller's to write."""
    finished = finished_fields(outcome, now)
    _log_attempt(process, claim.ctx, claim.worker, finished)
    return claim.attempt_id, finished


def settle(
    workflow: Workflow,
    process,
    step: Step,
    ctx: StepContext,
    outcome: Outcome,
    now,
    *,
    savepoint: bool = True,
) -> Outcome:
    """Record a successful call (under the lock) and move on, or handle the failure.

    Without `savepoint`, a failing record raises _RecordFailed, for a caller whose whole
    transaction may roll back instead (two statements fewer on every success)."""
    if outcome.ok:
        outcome = _with_payload(step, outcome)
    if outcome.ok:
        outcome = _record(process, step, ctx, outcome, savepoint=savepoint)
    if outcome.ok:
        progress.step_succeeded(workflow, process, step, now)
    else:
        failures.attempt_failed(workflow, process, step, outcome.error, now)
    return outcome


def _with_payload(step, outcome) -> Outcome:
    try:
        outcome.payload = step_payload(step.name, outcome.result)
    except PayloadTooLarge as error:
        return Outcome(error=error, duration_ms=outcome.duration_ms)
    return outcome


def _record(process, step, ctx, outcome, *, savepoint: bool) -> Outcome:
    """Run the step's record (or undo_record) under the lock; a failure leaves nothing behind:
    its savepoint rolls back, or without one _RecordFailed rolls the whole transaction back."""
    record = step.record if ctx.direction == Direction.FORWARD else step.undo_record
    state, mark = process.state, journal.pending(process)
    rollback = transaction.atomic() if savepoint else nullcontext()
    try:
        with rollback, journal.because(step.recorded_words(ctx.direction), step=step.name):
            record(process, outcome.result, ctx)
    except Exception as error:
        if not savepoint:
            raise _RecordFailed(error) from error
        process.__dict__["state"] = state  # the transition happened in memory only
        journal.discard_since(process, mark)
        return Outcome(error=error, duration_ms=outcome.duration_ms)
    return outcome


def _lease_expired(workflow, process, step, now):
    """The previous holder died mid-attempt: retry with the same key, after a backoff."""
    holder = leases.abandon(process, now)
    journal.note(process, EventKind.LEASE_EXPIRED, f"worker {holder} stopped answering during {step.name}")
    error = leases.LeaseExpired(f"worker {holder} held the lease until it expired")
    failures.attempt_failed(workflow, process, step, error, now)


def _log_attempt(process, ctx: StepContext, worker: str, finished: dict, level: int = logging.INFO) -> None:
    """One log line per finished attempt; JSON logs keep the `extra` fields as they are."""
    facts = {
        "process_type": process.label(),
        "process_id": str(process.pk),
        "step": ctx.step,
        "direction": str(ctx.direction),
        "attempt": ctx.attempt,
        "outcome": str(finished["outcome"]),
        "duration_ms": finished.get("duration_ms"),
        "error_class": finished.get("error_class", ""),
        "worker": worker,
    }
    logger.log(level, "%(step)s %(direction)s attempt %(attempt)s: %(outcome)s", facts, extra=facts)


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
