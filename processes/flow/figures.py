"""What the Incidents page, the dashboard and the metrics read about circuits (reads only).

Every step with a circuit breaker is shown, not only those that ever opened, so an operator
can pause a step before its service fails. The held counts come with the circuit rows, in one
query per process model over its partial `held` index, whatever the number of processes.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Max, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse

from processes import clock
from processes.flow import breaker, operators
from processes.flow.health import Health, health
from processes.models import Circuit, CircuitEvent, CircuitEventKind, CircuitState, Hold, Redrive, StepAttempt
from processes.workflow import CircuitPolicy, registry


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
    return model.objects.filter(step=step, held_since__isnull=False, held_by=Hold.CIRCUIT).count()


def circuit_steps() -> list[tuple[str, str]]:
    """(process label, step name) of every step that has a circuit, in every registered version."""
    found = {
        (workflow.model.lower(), step.name)
        for workflow in registry.all()
        for step in workflow.steps
        if step.circuit is not None
    }
    return sorted(found)


def step_policy(label: str, step: str) -> CircuitPolicy | None:
    """The circuit policy of the workflow's step (newest version that has the step), or None."""
    found = breaker.workflow_step(label, step)
    return found.circuit if found else None


def step_health(label: str, step: str, now: datetime | None = None) -> Health | None:
    """The step's health as its circuit reads it right now; None for a step without one."""
    policy = step_policy(label, step)
    if policy is None:
        return None
    circuit = Circuit.objects.filter(process_type=label, step=step).first()
    since = circuit.closed_at if circuit and circuit.state == CircuitState.CLOSED else None
    return health(label, step, policy, now or clock.now(), since=since)


def step_window(label: str, step: str, now: datetime | None = None) -> tuple[int, int]:
    """(failing processes, processes that called) in the step's window, as its circuit counts."""
    seen = step_health(label, step, now)
    return (seen.failing, seen.processes) if seen else (0, 0)


@dataclass(frozen=True)
class StepCircuit:
    """One step that has a circuit, with its state (closed when it has no row yet)."""

    label: str
    step: str
    workflow: str
    state: str
    held: int
    circuit: Circuit | None

    @property
    def state_display(self) -> str:
        return CircuitState(self.state).label


def workflow_name(label: str) -> str:
    try:
        return registry.newest(label).name
    except LookupError:
        return label


def step_circuits() -> list[StepCircuit]:
    """Every step that has a circuit, in workflow and step order: one query per process model."""
    steps = circuit_steps()
    rows = {}
    for label in sorted({label for label, _ in steps}):
        rows.update({(c.process_type, c.step): c for c in _circuits_with_held(label)})
    return [
        StepCircuit(
            label=label,
            step=step,
            workflow=workflow_name(label),
            state=rows[label, step].state if (label, step) in rows else CircuitState.CLOSED,
            held=rows[label, step].held if (label, step) in rows else 0,
            circuit=rows.get((label, step)),
        )
        for label, step in steps
    ]


def _circuits_with_held(label: str):
    """The model's circuit rows, each with the processes it holds (a process is only ever held
    by a circuit that has a row), counted over the partial `held` index."""
    model = registry.model_class(label)
    held = (
        model.objects.filter(step=OuterRef("step"), held_since__isnull=False, held_by=Hold.CIRCUIT)
        .order_by()
        .values("step")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Circuit.objects.filter(process_type=label).annotate(held=Coalesce(Subquery(held), 0))


def open_incident_count() -> int:
    """Circuits that are open, probing or paused right now."""
    return Circuit.objects.exclude(state=CircuitState.CLOSED).count()


def redrivable_count(label: str, step: str) -> int:
    """Processes a redrive of the step would retry now."""
    return operators.redrivable(label, step).count()


def held_processes(label: str, step: str, *, limit: int = 10) -> list[dict]:
    """The processes that have waited longest at the step, with a link to each one's page."""
    model = registry.model_class(label)
    held = model.objects.filter(step=step, held_since__isnull=False, held_by=Hold.CIRCUIT).order_by(
        "held_since"
    )
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_change"
    rows = []
    for pk, since in held.values_list("pk", "held_since")[:limit]:
        try:
            url = reverse(name, args=[pk])
        except NoReverseMatch:
            url = ""
        rows.append({"id": pk, "held_since": since, "url": url})
    return rows


def error_rows(errors: list[dict]) -> list[dict]:
    """Grouped errors with the class's own name to show (its module path goes in a tooltip)."""
    return [{**error, "name": error["error_class"].rsplit(".", 1)[-1]} for error in errors]


def circuit_history(circuit: Circuit | None, *, limit: int = 100) -> list[CircuitEvent]:
    if circuit is None:
        return []
    return list(circuit.events.all()[:limit])


def redrive_progress(redrive: Redrive | None) -> dict:
    """The figures the page shows and its poller reads: done of total, running or finished."""
    if redrive is None:
        return {"exists": False, "running": False}
    total = redrive.total
    percent = 100 if not total else min(100, round(100 * redrive.done / total))
    return {
        "exists": True,
        "id": redrive.pk,
        "done": redrive.done,
        "total": total,
        "percent": percent,
        "running": redrive.finished_at is None,
        "requested_by": redrive.requested_by,
        "requested_at": _iso(redrive.requested_at),
        "finished_at": _iso(redrive.finished_at),
        "reason": redrive.reason,
    }


def latest_redrive(label: str, step: str) -> Redrive | None:
    return Redrive.objects.filter(circuit__process_type=label, circuit__step=step).first()


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""
