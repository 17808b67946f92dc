"""A circuit's own changes: open, close, hold and release processes, and the alerts.

Every function here works on a circuit row the caller holds locked (`lock`), inside the
caller's transaction; an alert's email is written to the outbox in that transaction
(processes.outbox), its log line and signal and the wake-ups go out after commit.
"""

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from processes import clock, conf, journal, outbox, signals
from processes.models.flow import Circuit, CircuitEvent, CircuitEventKind, CircuitState, lock_or_create
from processes.models.journal import ActorType, EventKind, ProcessEvent
from processes.models.process import Hold
from processes.policies import CircuitPolicy
from processes.wakeup import send_wakeups, wake_longest_held
from processes.workflow import Step, registry

logger = logging.getLogger("processes.circuits")


def lock(label: str, step: str, key: str = "") -> Circuit:
    """The circuit row of the step's key, locked (made first if missing)."""
    return lock_or_create(Circuit, process_type=label, step=step, key=key)


def workflow_step(label: str, step: str) -> Step | None:
    """The step of that name in the newest version of the workflow that has it, or None."""
    for version in reversed(registry.versions(label)):
        workflow = registry.for_model(label, version)
        if step in workflow.step_names():
            return workflow.step(step)
    return None


def hold(process, circuit: Circuit, until: datetime, now: datetime) -> None:
    """Hold the process for its circuit until `until`, with one journal line when it begins."""
    process.next_run_at = until
    if not process.hold(Hold.CIRCUIT, circuit.key, now):
        return
    since = clock.written(circuit.incident_since or now)
    why = (
        f"paused by {circuit.paused_by or 'an operator'} ({circuit.reason})"
        if circuit.state == CircuitState.PAUSED
        else f"its service is failing ({circuit.reason})"
    )
    journal.note(
        process, EventKind.CIRCUIT, f"{circuit.where} waits: {why}, since {since}; no attempt is spent"
    )


def release_slot(process, step: Step, circuit: Circuit | None, now: datetime) -> bool:
    """A held process after its circuit closed: it is given the next free slot and is no longer
    held; True when that slot is now, else it waits until it (when it comes, it simply goes)."""
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
    process.stop_holding()
    if slot > now:
        process.next_run_at = slot
        return False
    return True


def open_circuit(
    circuit: Circuit, policy: CircuitPolicy, why: str, now: datetime, *, reopen: bool = False
) -> None:
    circuit.trips = circuit.trips + 1 if reopen else 1
    cooldown = policy.cooldown_after(circuit.trips)
    circuit.state = CircuitState.OPEN
    circuit.incident_since = circuit.incident_since if reopen and circuit.incident_since else now
    circuit.probe_at = now + timedelta(seconds=cooldown)
    circuit.probe_process, circuit.probe_until, circuit.probe_failures = None, None, 0
    circuit.reason, circuit.updated_at = why, now
    circuit.save()
    kind = CircuitEventKind.REOPENED if reopen else CircuitEventKind.OPENED
    event(circuit, kind, f"{why}; next probe in {cooldown:.0f}s", now)
    if not reopen:
        raise_alert(circuit, "opened", why, now)


def probe_failed(circuit: Circuit, step: Step, process, error: str, now: datetime) -> None:
    """The probe's call failed as a sick service fails. After `probes` such failures in a row
    the circuit re-opens for longer; before that another process probes next, so that one
    unlucky call (a service failing a third of its calls) does not stop the step for minutes."""
    policy = step.circuit
    circuit.probe_failures += 1
    if circuit.probe_failures >= policy.probes:
        why = f"{circuit.probe_failures} probes in a row failed; last: {error}"
        open_circuit(circuit, policy, why, now, reopen=True)
        return
    circuit.probe_process, circuit.probe_until, circuit.updated_at = None, None, now
    circuit.save(update_fields=["probe_failures", "probe_process", "probe_until", "updated_at"])
    detail = (
        f"probe {circuit.probe_failures} of {policy.probes} by {process_name(process)} failed "
        f"({error}): another process probes next"
    )
    event(circuit, CircuitEventKind.PROBE_FAILED, detail, now)
    label, name, key, pk = circuit.process_type, circuit.step, circuit.key, process.pk
    transaction.on_commit(lambda: wake_next_prober(label, name, key, passing_over=pk), robust=True)


def wake_next_prober(label: str, step: str, key: str, *, passing_over) -> bool:
    """Make the process held longest at the step due now, to probe next (not `passing_over`,
    whose probe just failed); False when none is held (that one probes again itself)."""
    return wake_longest_held(_held(registry.model_class(label), step, key).exclude(pk=passing_over))


def close_circuit(circuit: Circuit, kind: str, why: str, now: datetime, *, actor: str) -> None:
    """Close the (locked) circuit; an incident that alerted when it opened alerts when it ends
    (also when an operator paused it in between), a pause by hand alone does not. Closed by a
    probe, it alerts once it has stayed closed for CIRCUIT_SETTLE (see flow.sweep); an
    operator's resume, or a pause's end, alerts at once."""
    alerted = _opening_alerted(circuit)
    was = circuit.get_state_display().lower()
    since = circuit.incident_since or now
    circuit.state = CircuitState.CLOSED
    circuit.closed_at = circuit.release_next_at = circuit.updated_at = now
    circuit.trips, circuit.probe_at, circuit.probe_process, circuit.probe_until = 0, None, None, None
    circuit.probe_failures = 0
    circuit.paused_until, circuit.paused_by = None, ""
    circuit.reason = why
    settling = alerted and kind == CircuitEventKind.CLOSED
    circuit.close_alert_at = now + timedelta(seconds=conf.get("CIRCUIT_SETTLE")) if settling else None
    circuit.save()
    lasted = (now - since).total_seconds()
    event(circuit, kind, f"{why} (it was {was} for {lasted:.0f}s)", now, actor=actor)
    if alerted and not settling:
        raise_alert(circuit, "closed", why, now)
    label, step, key = circuit.process_type, circuit.step, circuit.key
    note = f"{circuit.where} resumed by {actor}: {why}" if actor else ""
    transaction.on_commit(lambda: wake_held(label, step, key, note=note, actor=actor), robust=True)


def held_by_circuit(label: str, step: str, key: str):
    """The processes the circuit of the step's key holds (over the partial `held` index)."""
    return _held(registry.model_class(label), step, key)


def _held(model, step: str, key: str):
    return model.objects.filter(step=step, held_since__isnull=False, held_by=Hold.CIRCUIT, held_key=key)


def wake_held(label: str, step: str, key: str = "", *, note: str = "", actor: str = "") -> int:
    """Make the step's held processes due now (each then takes a release slot), in batches
    of their own transactions; a process locked by a claim right now is already moving.
    With a `note` (an operator's resume), each gets that line in its journal."""
    model = registry.model_class(label)
    woken, after = 0, None
    while True:
        with transaction.atomic():
            now = clock.now()
            held = _held(model, step, key).filter(next_run_at__isnull=False, lease_owner="")
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
    """Was the last alert of this circuit its opening's, so that its closing is still owed?

    Alerts are recorded in the transaction that raises them, with their email in the outbox:
    what was raised is owed, whether or not the email has gone out yet."""
    latest = circuit.events.filter(kind=CircuitEventKind.ALERT).values_list("detail", flat=True).first()
    return latest is not None and latest.startswith("circuit_opened")


def raise_alert(circuit: Circuit, change: str, why: str, now: datetime) -> None:
    """One alert per opening or closing of an incident, recorded on the (locked) circuit with
    its email to ADMINS in the outbox, in the caller's transaction; a JSON log line and the
    `circuit_changed` signal on commit."""
    facts = {
        "event": f"circuit_{change}",
        "process": circuit.process_type,
        "step": circuit.step,
        "reason": why,
        "at": now.isoformat(),
    }
    recipients = [address for _, address in settings.ADMINS]
    to = f"email to {', '.join(recipients)} queued" if recipients else "nobody to email"
    event(circuit, CircuitEventKind.ALERT, f"{facts['event']} alert: {to}", now)
    transaction.on_commit(lambda: _announce(facts), robust=True)
    outbox.enqueue(
        key=f"circuit:{circuit.pk}:{change}:{facts['at']}",
        kind=facts["event"],
        subject=f"{settings.EMAIL_SUBJECT_PREFIX}{circuit.where} circuit {change}: {why}",
        body=json.dumps(facts, indent=2, sort_keys=True),
        from_email=settings.SERVER_EMAIL,
        to=recipients,
        circuit=circuit,
    )


def _announce(facts: dict) -> None:
    """The alert's JSON log line and signal, best effort after commit (the email is durable)."""
    logger.error(json.dumps(facts, sort_keys=True))
    signals.circuit_changed.send(
        sender=Circuit,
        process=facts["process"],
        step=facts["step"],
        change=facts["event"],
        reason=facts["reason"],
    )


def event(circuit: Circuit, kind: str, detail: str, now: datetime, *, actor: str = "") -> None:
    CircuitEvent.objects.create(circuit=circuit, kind=kind, detail=detail[:2000], actor=actor, created_at=now)
    logger.info("circuit %s %s: %s %s", circuit.process_type, circuit.step, kind, detail)


def describe_error(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]


def process_name(process) -> str:
    return f"{type(process).__name__} {process.pk}"
