"""Circuit breakers per step: when a service fails for many processes, the step waits for all.

A step that calls a service may declare a `CircuitPolicy`. Its circuit (one `Circuit` row per
workflow and step, shared by every worker) is closed until the service failures in its window
reach the policy's share. Then it opens: processes due at the step are held (`held_since`)
without spending attempts until the cool-down ends, and a failure that arrives while it is
open does not spend one either. After the cool-down one process goes through as a probe: its
success closes the circuit, its failure re-opens it for longer. When the circuit closes (or an
operator resumes a paused step) the held processes go one per release slot, at the policy's
rate, so a service that has just come back is not hit by all of them at once.

Locks are always taken in the same order, the process row first and the circuit row second,
and bulk work on many processes (waking held ones, redrives) runs in transactions of its own
that hold no circuit lock, so the engine's transactions never wait on each other in a cycle.
"""

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.mail import mail_admins
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q
from django_q.tasks import async_task

from processes import attention, clock, conf, journal, signals
from processes.journal import Actor
from processes.models import (
    ActorType,
    AttemptOutcome,
    Circuit,
    CircuitEvent,
    CircuitEventKind,
    CircuitState,
    EventKind,
    ProcessEvent,
    Redrive,
    RunStatus,
    StepAttempt,
)
from processes.wakeup import send_wakeups
from processes.workflow import CircuitPolicy, Step, registry

logger = logging.getLogger("processes.circuits")

GO, PROBE, HELD = "go", "probe", "held"
REDRIVE_TASK = "processes.tasks.run_redrive"


# -- the engine's side: called by processes.runner under the process row's lock -------------


def admit(process, step: Step, now: datetime) -> str:
    """May the process make its call at `step` now? GO, PROBE (go, as the circuit's probe) or
    HELD (its `next_run_at` moved to when it may look again; the caller saves)."""
    circuit = Circuit.objects.filter(process_type=process.label(), step=step.name).first()
    if circuit is None or circuit.state == CircuitState.CLOSED:
        return _release_slot(process, step, circuit, now) if process.held_since else GO
    if _pause_over(circuit, now):
        circuit = Circuit.objects.select_for_update().get(pk=circuit.pk)
        if _pause_over(circuit, now):
            _close(circuit, CircuitEventKind.RESUMED, "the pause ended", now, actor="")
        return admit(process, step, now)
    probe_due = Q(state=CircuitState.OPEN, probe_at__lte=now) | Q(
        state=CircuitState.HALF_OPEN, probe_until__lt=now
    )
    probe_until = now + timedelta(seconds=step.attempt_timeout + conf.get("LEASE_GRACE"))
    if Circuit.objects.filter(probe_due, pk=circuit.pk).update(
        state=CircuitState.HALF_OPEN, probe_process=process.pk, probe_until=probe_until, updated_at=now
    ):
        _event(circuit, CircuitEventKind.PROBE, f"{_name(process)} tries the service", now)
        journal.note(process, EventKind.CIRCUIT, f"{step.name}: goes through as the circuit's probe")
        return PROBE
    return _hold_under_lock(process, step, circuit, now)


def _pause_over(circuit: Circuit, now: datetime) -> bool:
    return circuit.state == CircuitState.PAUSED and _due(circuit.paused_until, now)


def _due(when: datetime | None, now: datetime) -> bool:
    return when is not None and when <= now


def _hold_under_lock(process, step: Step, circuit: Circuit, now: datetime) -> str:
    """Hold the process, deciding under the circuit's lock. A close or a resume that committed
    since the circuit was read is seen here (the process goes on); one that comes later waits
    for this transaction, and its wake-up (`wake_held`, which passes over processes locked by
    a claim) then finds the process held. Decided on a stale read, the process would sleep
    until its next look (up to PAUSE_RECHECK) with its circuit closed."""
    circuit = Circuit.objects.select_for_update().get(pk=circuit.pk)
    if circuit.state == CircuitState.CLOSED:
        return admit(process, step, now)
    _hold(process, circuit, _look_again_at(circuit, step, now), now)
    return HELD


def call_failed(process, step: Step, *, probe: bool, error: BaseException, now: datetime) -> bool:
    """A call at `step` failed the way a sick service fails. True when the circuit is (now)
    open: the process is then held and the attempt does not count against its retries."""
    policy = step.circuit
    label = process.label()
    circuit = Circuit.objects.filter(process_type=label, step=step.name).first()
    step_aside = timedelta(0)
    if probe and circuit and circuit.probe_process == process.pk and circuit.state == CircuitState.HALF_OPEN:
        circuit = _lock(label, step.name)
        if circuit.state == CircuitState.HALF_OPEN and circuit.probe_process == process.pk:
            _open(circuit, policy, f"the probe failed: {_describe(error)}", now, reopen=True)
            # The failure may be this process's own (a card whose issuer never answers): it
            # looks again a little after the next probe, so that another process probes then.
            step_aside = timedelta(seconds=step.attempt_timeout / 10)
    elif circuit is None or circuit.state == CircuitState.CLOSED:
        closed_at = circuit.closed_at if circuit else None
        failures, attempts, failing = window(label, step.name, policy, now, since=closed_at)
        if attempts < policy.min_attempts or failing < _processes_needed(process, step):
            return False
        if failures < policy.failure_share * attempts:
            return False
        circuit = _lock(label, step.name)
        if circuit.state == CircuitState.CLOSED:
            why = f"{failures} of the last {attempts} attempts failed; last: {_describe(error)}"
            if circuit.close_alert_at is not None:  # closed too shortly to call the incident over
                closed = (now - circuit.closed_at).total_seconds()
                why = f"{why} ({closed:.0f}s after it closed: the same incident)"
                circuit.close_alert_at = None
                _open(circuit, policy, why, now, reopen=True)
            else:
                _open(circuit, policy, why, now)
    else:
        circuit = _lock(label, step.name)  # decide on what it is now, as in _hold_under_lock
    if circuit.state == CircuitState.CLOSED:
        return False  # closed meanwhile: an ordinary failure, retried as the step's policy says
    process.attempts = max(process.attempts - 1, 0)  # the outage is known: not this process's failure
    process.last_error = _describe(error)
    state = circuit.get_state_display().lower()
    journal.note(
        process,
        EventKind.CIRCUIT,
        f"{step.name} failed ({process.last_error}) while its circuit is {state}: the attempt does not count",
    )
    _hold(process, circuit, _look_again_at(circuit, step, now) + step_aside, now)
    return True


def _processes_needed(process, step: Step) -> int:
    """How many failing processes the window needs before the circuit opens. A process whose
    retries this failure uses up asks with a lower bar (itself and one other): at the start of
    an outage its quick retries can outrun the orders arriving behind it, and it is better to
    open the circuit on two orders than to undo one order for an outage."""
    policy = step.retry if process.direction == "forward" else step.undo_retry
    if process.attempts >= policy.max_attempts:
        return min(step.circuit.min_processes, 2)
    return step.circuit.min_processes


def probe_answered(process, step: Step, now: datetime) -> None:
    """The probe got an answer from the service (a success, or a refusal such as a decline):
    the service is back, so the circuit closes and the held processes may go."""
    circuit = _lock(process.label(), step.name)
    if circuit.state == CircuitState.HALF_OPEN and circuit.probe_process == process.pk:
        _close(circuit, CircuitEventKind.CLOSED, f"the probe by {_name(process)} succeeded", now, actor="")


def is_service_failure(step: Step, direction: str, error: BaseException | None) -> bool:
    """What a circuit counts: an error raised by the call that its policy would retry
    (unavailable, an ambiguous timeout, an unknown error); never a refusal like a decline."""
    if error is None or step.circuit is None:
        return False
    policy = step.retry if direction == "forward" else step.undo_retry
    return not policy.is_permanent(error)


def window(
    label: str, step: str, policy: CircuitPolicy, now: datetime, *, since: datetime | None = None
) -> tuple[int, int, int]:
    """(service failures, finished attempts, processes that failed) among the step's latest
    attempts in the window; none from before `since` (when the circuit last closed: the
    failures of an outage that is over must not re-open it)."""
    start = now - timedelta(seconds=policy.window_seconds)
    latest = (
        StepAttempt.objects.filter(
            step=step,
            process_type=label,
            started_at__gte=max(start, since) if since else start,
            outcome__in=[AttemptOutcome.SUCCEEDED, AttemptOutcome.FAILED],
        )
        .order_by("-started_at")
        .values_list("service_failed", "process_id")[: policy.window_attempts]
    )
    outcomes = list(latest)
    failing = {process for failed, process in outcomes if failed}
    return sum(failed for failed, _ in outcomes), len(outcomes), len(failing)


def _look_again_at(circuit: Circuit, step: Step, now: datetime) -> datetime:
    """When a process held by this circuit should look again: at the next probe, at the end of
    the probe in flight, at the end of the pause; never later than PAUSE_RECHECK from now."""
    when = {
        CircuitState.OPEN: circuit.probe_at,
        CircuitState.HALF_OPEN: circuit.probe_until,
        CircuitState.PAUSED: circuit.paused_until,
    }.get(circuit.state)
    recheck = now + timedelta(seconds=conf.get("PAUSE_RECHECK"))
    if when is None or when > recheck:
        return recheck
    return max(when, now + timedelta(seconds=step.attempt_timeout / 10))


# -- the operators' side ------------------------------------------------------------------------


def pause(label: str, step: str, *, actor: Actor, reason: str, until: datetime | None = None) -> Circuit:
    """Hold the step for every process by hand (a maintenance window), until `until` or resume."""
    _policy(label, step)
    now = clock.now()
    if until is not None and until <= now:
        raise ValueError("The end of a pause must be in the future.")
    with transaction.atomic():
        circuit = _lock(label, step)
        circuit.state = CircuitState.PAUSED
        circuit.incident_since = circuit.incident_since or now
        circuit.paused_until, circuit.paused_by, circuit.reason = until, actor.name, reason
        circuit.probe_process, circuit.probe_until = None, None
        circuit.updated_at = now
        circuit.save()
        ending = f" until {until.isoformat()}" if until else " until resumed"
        _event(circuit, CircuitEventKind.PAUSED, f"{reason}{ending}", now, actor=actor.name)
    return circuit


def resume(label: str, step: str, *, actor: Actor, reason: str) -> Circuit:
    """Close the step's circuit now (paused or open): the held processes go at the release rate."""
    _policy(label, step)
    with transaction.atomic():
        circuit = _lock(label, step)
        if circuit.state == CircuitState.CLOSED:
            raise ValueError(f"The {step} step is not paused or open: there is nothing to resume.")
        _close(circuit, CircuitEventKind.RESUMED, reason, clock.now(), actor=actor.name)
    return circuit


def start_redrive(label: str, step: str, *, actor: Actor, reason: str) -> tuple[Redrive, bool]:
    """Retry, in the background, every process of the step that needs attention.

    Returns (redrive, started): when one already runs for the step, that one is returned and
    nothing new starts, so a second click is harmless.
    """
    _policy(label, step, circuit_required=False)
    with transaction.atomic():
        circuit = _lock(label, step)
        running = circuit.redrives.filter(finished_at__isnull=True).first()
        if running:
            return running, False
        total = redrivable(label, step).count()
        redrive = Redrive.objects.create(circuit=circuit, requested_by=actor.name, reason=reason, total=total)
        _event(
            circuit,
            CircuitEventKind.REDRIVE,
            f"redrive of {total} processes started: {reason}",
            clock.now(),
            actor=actor.name,
        )
        transaction.on_commit(lambda: _enqueue_redrive(redrive.pk), robust=True)
    return redrive, True


def run_redrive(redrive_id: int) -> int:
    """The redrive's task: retry the step's processes that need attention, a batch per
    transaction, until none is left. Safe to kill and to run twice at once (SKIP LOCKED)."""
    redrive = Redrive.objects.select_related("circuit").get(pk=redrive_id)
    circuit = redrive.circuit
    actor = Actor(ActorType.OPERATOR, redrive.requested_by)
    retried, patience = 0, time.monotonic() + conf.get("REDRIVE_LOCK_WAIT")
    while True:
        with transaction.atomic(), journal.acting(actor, f"redrive: {redrive.reason}"):
            now = clock.now()
            if not Redrive.objects.filter(pk=redrive.pk, finished_at__isnull=True).exists():
                return retried  # finished by another run (a re-delivered or restarted task)
            batch = list(
                redrivable(circuit.process_type, circuit.step)
                .select_for_update(skip_locked=True)
                .order_by("updated_at")[: conf.get("REDRIVE_BATCH")]
            )
            for process in batch:
                _retry_for_redrive(process, redrive, now)
            retried += len(batch)
            # Rows we skipped are locked by someone else (a claim, an operator's action, the
            # session of a worker that was just killed): wait for them a little before ending.
            locked = 0 if batch else redrivable(circuit.process_type, circuit.step).count()
            finish = not batch and (not locked or time.monotonic() > patience)
            progress = {"done": F("done") + len(batch), "heartbeat_at": now}
            if finish:
                progress.update(finished_at=now, skipped=locked)
            marked = Redrive.objects.filter(pk=redrive.pk, finished_at__isnull=True).update(**progress)
            if finish and marked:  # two runs that find nothing left: one says it finished
                left = f", {locked} left locked by others: redrive again" if locked else ""
                _event(
                    circuit,
                    CircuitEventKind.REDRIVE,
                    f"redrive {redrive.pk} finished{left}",
                    now,
                    actor=redrive.requested_by,
                )
        if finish:
            return retried
        if not batch:
            time.sleep(0.5)


def tick(now: datetime | None = None) -> None:
    """The sweeper's look at the circuits: end pauses whose time is up, send the "closed" alert
    of incidents that stayed closed for CIRCUIT_SETTLE, restart redrives whose task died (no
    heartbeat for REDRIVE_STALE seconds)."""
    now = now or clock.now()
    pause_over = Q(state=CircuitState.PAUSED, paused_until__lte=now)
    due = Circuit.objects.filter(pause_over | Q(state=CircuitState.CLOSED, close_alert_at__lte=now))
    for pk in list(due.values_list("pk", flat=True)):  # one query a sweep, whatever is due
        with transaction.atomic():
            circuit = Circuit.objects.select_for_update().get(pk=pk)
            if _pause_over(circuit, now):
                _close(circuit, CircuitEventKind.RESUMED, "the pause ended", now, actor="")
            elif circuit.state == CircuitState.CLOSED and _due(circuit.close_alert_at, now):
                circuit.close_alert_at = None
                circuit.save(update_fields=["close_alert_at"])
                _alert_on_commit(circuit, "closed", circuit.reason, now)
    stale = now - timedelta(seconds=conf.get("REDRIVE_STALE"))
    dead = Redrive.objects.filter(finished_at__isnull=True).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, requested_at__lt=stale)
    )
    for redrive_id in list(dead.values_list("pk", flat=True)):
        if Redrive.objects.filter(pk=redrive_id, finished_at__isnull=True).update(heartbeat_at=now):
            logger.warning("redrive %s stopped answering; starting it again", redrive_id)
            _enqueue_redrive(redrive_id)


# -- what the admin and the metrics show ---------------------------------------------------------


@dataclass
class Incident:
    circuit: Circuit
    held: int
    failures: int
    attempts: int
    errors: list[dict]
    alerts: int
    redrive: Redrive | None


def incidents(*, recent: timedelta = timedelta(hours=24)) -> list[Incident]:
    """Every circuit that is not closed, or closed within `recent`, newest incident first."""
    now = clock.now()
    shown = Circuit.objects.filter(~Q(state=CircuitState.CLOSED) | Q(closed_at__gte=now - recent))
    return [describe(circuit, now) for circuit in shown.order_by("-incident_since", "pk")]


def describe(circuit: Circuit, now: datetime | None = None) -> Incident:
    now = now or clock.now()
    failures, attempts = step_window(circuit.process_type, circuit.step, now)
    policy = step_policy(circuit.process_type, circuit.step)
    lookback = timedelta(seconds=policy.window_seconds if policy else 3600)
    # The failures that opened the circuit happened in the window before it opened.
    since = (circuit.incident_since or now) - lookback
    errors = (
        StepAttempt.objects.filter(
            process_type=circuit.process_type, step=circuit.step, started_at__gte=since, service_failed=True
        )
        .values("error_class", "error_message")
        .annotate(count=Count("id"), last=Max("finished_at"))
        .order_by("-last")[:10]
    )
    return Incident(
        circuit=circuit,
        held=held_count(circuit.process_type, circuit.step),
        failures=failures,
        attempts=attempts,
        errors=list(errors),
        alerts=circuit.events.filter(kind=CircuitEventKind.ALERT).count(),
        redrive=circuit.redrives.first(),
    )


def held_count(label: str, step: str) -> int:
    model = registry.model_class(label)
    return model.objects.filter(step=step, held_since__isnull=False).count()


def circuit_steps() -> list[tuple[str, str]]:
    """(process label, step name) of every step that has a circuit, in every registered version."""
    found = {
        (workflow.model.lower(), step.name)
        for workflow in registry.all()
        for step in workflow.steps
        if step.circuit is not None
    }
    return sorted(found)


# -- inside ----------------------------------------------------------------------------------------


def _hold(process, circuit: Circuit, until: datetime, now: datetime) -> None:
    process.next_run_at = until
    if process.held_since is not None:
        return
    process.held_since = now
    since = (circuit.incident_since or now).isoformat(timespec="seconds")
    why = (
        f"paused by {circuit.paused_by or 'an operator'} ({circuit.reason})"
        if circuit.state == CircuitState.PAUSED
        else f"its service is failing ({circuit.reason})"
    )
    journal.note(
        process, EventKind.CIRCUIT, f"{circuit.step} waits: {why}, since {since}; no attempt is spent"
    )


def _release_slot(process, step: Step, circuit: Circuit | None, now: datetime) -> str:
    """A held process after its circuit closed: it is given the next free slot and is no longer
    held; GO when that slot is now, else HELD until it (when it comes, it simply goes)."""
    slot = now
    if circuit is not None:
        circuit = Circuit.objects.select_for_update().get(pk=circuit.pk)
        rate = step.circuit.release_per_second if step.circuit else 5.0
        slot = max(circuit.release_next_at or now, now)
        circuit.release_next_at = slot + timedelta(seconds=1 / rate)
        circuit.save(update_fields=["release_next_at"])
    waited = (now - process.held_since).total_seconds()
    later = f" in {(slot - now).total_seconds():.1f}s" if slot > now else ""
    journal.note(
        process, EventKind.CIRCUIT, f"{step.name} goes on{later} after waiting {waited:.0f}s for its circuit"
    )
    process.held_since = None
    if slot > now:
        process.next_run_at = slot
        return HELD
    return GO


def _open(circuit: Circuit, policy: CircuitPolicy, why: str, now: datetime, *, reopen: bool = False) -> None:
    circuit.trips = circuit.trips + 1 if reopen else 1
    cooldown = policy.cooldown_after(circuit.trips)
    circuit.state = CircuitState.OPEN
    circuit.incident_since = circuit.incident_since if reopen and circuit.incident_since else now
    circuit.probe_at = now + timedelta(seconds=cooldown)
    circuit.probe_process, circuit.probe_until = None, None
    circuit.reason, circuit.updated_at = why, now
    circuit.save()
    kind = CircuitEventKind.REOPENED if reopen else CircuitEventKind.OPENED
    _event(circuit, kind, f"{why}; next probe in {cooldown:.0f}s", now)
    if not reopen:
        _alert_on_commit(circuit, "opened", why, now)


def _close(circuit: Circuit, kind: str, why: str, now: datetime, *, actor: str) -> None:
    """Close the (locked) circuit; an incident that alerted when it opened alerts when it ends
    (also when an operator paused it in between), a pause by hand alone does not. Closed by a
    probe, it alerts once it has stayed closed for CIRCUIT_SETTLE (see `tick`); an operator's
    resume, or a pause's end, alerts at once."""
    alerted = _opening_alerted(circuit)
    was = circuit.get_state_display().lower()
    since = circuit.incident_since or now
    circuit.state = CircuitState.CLOSED
    circuit.closed_at = circuit.release_next_at = circuit.updated_at = now
    circuit.trips, circuit.probe_at, circuit.probe_process, circuit.probe_until = 0, None, None, None
    circuit.paused_until, circuit.paused_by = None, ""
    circuit.reason = why
    settling = alerted and kind == CircuitEventKind.CLOSED
    circuit.close_alert_at = now + timedelta(seconds=conf.get("CIRCUIT_SETTLE")) if settling else None
    circuit.save()
    lasted = (now - since).total_seconds()
    _event(circuit, kind, f"{why} (it was {was} for {lasted:.0f}s)", now, actor=actor)
    if alerted and not settling:
        _alert_on_commit(circuit, "closed", why, now)
    label, step = circuit.process_type, circuit.step
    note = f"{step} resumed by {actor}: {why}" if actor else ""
    transaction.on_commit(lambda: wake_held(label, step, note=note, actor=actor), robust=True)


def wake_held(label: str, step: str, *, note: str = "", actor: str = "") -> int:
    """Make the step's held processes due now (each then takes a release slot), in batches
    of their own transactions; a process locked by a claim right now is already moving.
    With a `note` (an operator's resume), each gets that line in its journal."""
    model = registry.model_class(label)
    woken, after = 0, None
    while True:
        with transaction.atomic():
            now = clock.now()
            held = model.objects.filter(step=step, held_since__isnull=False, next_run_at__isnull=False)
            if after is not None:
                held = held.filter(pk__gt=after)
            rows = list(
                held.order_by("pk").select_for_update(skip_locked=True).values_list("pk", "state")[:500]
            )
            if not rows:
                return woken
            pks = [pk for pk, _ in rows]
            model.objects.filter(pk__in=pks, next_run_at__gt=now).update(next_run_at=now, enqueued_at=now)
            if note:
                ProcessEvent.objects.bulk_create(
                    ProcessEvent(
                        process_type=label,
                        process_id=pk,
                        kind=EventKind.OPERATOR_ACTION,
                        from_state=state,
                        to_state=state,
                        step=step,
                        actor_type=ActorType.OPERATOR,
                        actor=actor,
                        reason=note,
                        created_at=now,
                    )
                    for pk, state in rows
                )
            keys = [str(pk) for pk in pks]
            transaction.on_commit(lambda keys=keys: send_wakeups(label, keys), robust=True)
            woken, after = woken + len(rows), pks[-1]


def _opening_alerted(circuit: Circuit) -> bool:
    """Was the last alert of this circuit its opening's, so that its closing is still owed?"""
    latest = circuit.events.filter(kind=CircuitEventKind.ALERT).values_list("detail", flat=True).first()
    return latest is not None and latest.startswith("circuit_opened")


def _alert_on_commit(circuit: Circuit, change: str, why: str, now: datetime) -> None:
    facts = {
        "event": f"circuit_{change}",
        "process": circuit.process_type,
        "step": circuit.step,
        "reason": why,
        "at": now.isoformat(),
    }
    circuit_id = circuit.pk
    transaction.on_commit(lambda: _alert(circuit_id, facts), robust=True)


def _alert(circuit_id: int, facts: dict) -> None:
    """One alert per opening or closing: a JSON log line, a signal and one email to ADMINS."""
    logger.error(json.dumps(facts, sort_keys=True))
    signals.circuit_changed.send(
        sender=Circuit,
        process=facts["process"],
        step=facts["step"],
        change=facts["event"],
        reason=facts["reason"],
    )
    subject = f"{facts['step']} circuit {facts['event'].removeprefix('circuit_')}: {facts['reason']}"[:200]
    mail_admins(subject, json.dumps(facts, indent=2, sort_keys=True), fail_silently=True)
    CircuitEvent.objects.create(
        circuit_id=circuit_id,
        kind=CircuitEventKind.ALERT,
        detail=f"{facts['event']} alert sent",
        created_at=clock.now(),
    )


def _event(circuit: Circuit, kind: str, detail: str, now: datetime, *, actor: str = "") -> None:
    CircuitEvent.objects.create(circuit=circuit, kind=kind, detail=detail[:2000], actor=actor, created_at=now)
    logger.info("circuit %s %s: %s %s", circuit.process_type, circuit.step, kind, detail)


def _lock(label: str, step: str) -> Circuit:
    """The step's circuit row, locked (made first if missing; racing makers get the same row)."""
    try:
        with transaction.atomic():
            Circuit.objects.get_or_create(process_type=label, step=step)
    except IntegrityError:
        pass  # made by someone else just now
    return Circuit.objects.select_for_update().get(process_type=label, step=step)


def redrivable(label: str, step: str):
    """The processes a redrive of the step retries: flagged at that step, not waiting on a person."""
    model = registry.model_class(label)
    return model.objects.filter(step=step, needs_attention=True, run_status=RunStatus.READY)


def _retry_for_redrive(process, redrive: Redrive, now: datetime) -> None:
    from processes.wakeup import wake_on_commit

    attention.clear_attention(process, f"redrive by {redrive.requested_by}: {redrive.reason}")
    journal.note(
        process, EventKind.OPERATOR_ACTION, f"retry {process.step} (redrive {redrive.pk}): {redrive.reason}"
    )
    process.attempts = 0
    process.held_since = process.held_since or now  # released one per slot, like after an outage
    process.next_run_at = now
    wake_on_commit(process)
    process.save()


def _enqueue_redrive(redrive_id: int) -> None:
    async_task(REDRIVE_TASK, redrive_id, task_name=f"redrive {redrive_id}")


def step_policy(label: str, step: str) -> CircuitPolicy | None:
    """The circuit policy of the workflow's step (newest version that has the step), or None."""
    found = _step(label, step)
    return found.circuit if found else None


def step_window(label: str, step: str, now: datetime | None = None) -> tuple[int, int]:
    """(service failures, finished attempts) as the step's circuit counts them right now."""
    policy = step_policy(label, step)
    if policy is None:
        return 0, 0
    circuit = Circuit.objects.filter(process_type=label, step=step).first()
    since = circuit.closed_at if circuit and circuit.state == CircuitState.CLOSED else None
    failures, attempts, _ = window(label, step, policy, now or clock.now(), since=since)
    return failures, attempts


def _step(label: str, step: str) -> Step | None:
    for version in reversed(registry.versions(label)):
        workflow = registry.for_model(label, version)
        if step in workflow.step_names():
            return workflow.step(step)
    return None


def _policy(label: str, step: str, *, circuit_required: bool = True) -> None:
    """Refuse, with a message that says why, a step that does not exist or has no circuit."""
    if label.lower() not in registry.labels():
        raise ValueError(f"No workflow is registered for {label!r}.")
    found = _step(label, step)
    if found is None:
        raise ValueError(f"The {label} workflow has no step {step!r}.")
    if circuit_required and found.circuit is None:
        raise ValueError(f"The {step} step has no circuit breaker: it cannot be paused.")


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def _name(process) -> str:
    return f"{type(process).__name__} {process.pk}"
