"""What operators do to a step's circuit: pause it, resume it, redrive its processes.

Each call checks the step exists (and has a circuit where that matters) and raises ValueError
with a message that says why otherwise, changing nothing; the admin's forms show that message.
"""

import logging
import time
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django_q.tasks import async_task

from processes import attention, clock, conf, journal
from processes.flow import breaker
from processes.journal import Actor
from processes.models.flow import CircuitEventKind, CircuitState, Redrive
from processes.models.journal import ActorType, EventKind
from processes.models.process import Hold, RunStatus
from processes.wakeup import wake_on_commit
from processes.workflow import registry

logger = logging.getLogger("processes.circuits")

REDRIVE_TASK = "processes.tasks.run_redrive"


def pause(label: str, step: str, key: str = "", *, actor: Actor, reason: str, until: datetime | None = None):
    """Hold the step (for one flow key) for every process by hand (a maintenance window, one
    carrier account's), until `until` or resume."""
    _check_step(label, step)
    now = clock.now()
    if until is not None and until <= now:
        raise ValueError("The end of a pause must be in the future.")
    with transaction.atomic():
        circuit = breaker.lock(label, step, key)
        circuit.state = CircuitState.PAUSED
        circuit.incident_since = circuit.incident_since or now
        circuit.paused_until, circuit.paused_by, circuit.reason = until, actor.name, reason
        circuit.probe_process, circuit.probe_until, circuit.probe_failures = None, None, 0
        circuit.updated_at = now
        circuit.save()
        ending = f" until {clock.written(until)}" if until else " until resumed"
        breaker.event(circuit, CircuitEventKind.PAUSED, f"{reason}{ending}", now, actor=actor.name)
    return circuit


def resume(label: str, step: str, key: str = "", *, actor: Actor, reason: str):
    """Close the circuit of the step's key now (paused or open): the held processes go at the
    release rate."""
    _check_step(label, step)
    with transaction.atomic():
        circuit = breaker.lock(label, step, key)
        if circuit.state == CircuitState.CLOSED:
            raise ValueError(f"The {circuit.where} step is not paused or open: there is nothing to resume.")
        breaker.close_circuit(circuit, CircuitEventKind.RESUMED, reason, clock.now(), actor=actor.name)
    return circuit


def start_redrive(label: str, step: str, *, actor: Actor, reason: str) -> tuple[Redrive, bool]:
    """Retry, in the background, every process of the step that needs attention.

    Returns (redrive, started): when one already runs for the step, that one is returned and
    nothing new starts, so a second click is harmless.
    """
    _check_step(label, step, circuit_required=False)
    with transaction.atomic():
        circuit = breaker.lock(label, step)
        running = circuit.redrives.filter(finished_at__isnull=True).first()
        if running:
            return running, False
        total = redrivable(label, step).count()
        redrive = Redrive.objects.create(circuit=circuit, requested_by=actor.name, reason=reason, total=total)
        breaker.event(
            circuit,
            CircuitEventKind.REDRIVE,
            f"redrive of {total} processes started: {reason}",
            clock.now(),
            actor=actor.name,
        )
        transaction.on_commit(lambda: enqueue_redrive(redrive.pk), robust=True)
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
                breaker.event(
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


def redrivable(label: str, step: str):
    """The processes a redrive of the step retries: flagged at that step, not waiting on a person."""
    model = registry.model_class(label)
    return model.objects.filter(step=step, needs_attention=True, run_status=RunStatus.READY)


def enqueue_redrive(redrive_id: int) -> None:
    async_task(REDRIVE_TASK, redrive_id, task_name=f"redrive {redrive_id}")


def _retry_for_redrive(process, redrive: Redrive, now: datetime) -> None:
    attention.clear_attention(process, f"redrive by {redrive.requested_by}: {redrive.reason}")
    journal.note(
        process, EventKind.OPERATOR_ACTION, f"retry {process.step} (redrive {redrive.pk}): {redrive.reason}"
    )
    process.attempts = 0
    step = registry.for_process(process).step(process.step)
    if step.circuit is not None:  # released one per slot of its key's circuit, as after an outage
        process.stop_holding()
        process.hold(Hold.CIRCUIT, step.flow_key(process), now)
    process.next_run_at = now
    wake_on_commit(process)
    process.save()


def _check_step(label: str, step: str, *, circuit_required: bool = True) -> None:
    """Refuse, with a message that says why, a step that does not exist or has no circuit."""
    if label.lower() not in registry.labels():
        raise ValueError(f"No workflow is registered for {label!r}.")
    found = breaker.workflow_step(label, step)
    if found is None:
        raise ValueError(f"The {label} workflow has no step {step!r}.")
    if circuit_required and found.circuit is None:
        raise ValueError(f"The {step} step has no circuit breaker: it cannot be paused.")
