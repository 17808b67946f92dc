"""What the Incidents page, the dashboard and the metrics read about circuits (reads only).

Every step with a circuit breaker is shown, not only those that ever opened, so an operator
can pause a step before its service fails. The held counts come with the circuit rows, in one
query per process model over its partial `held` index, whatever the number of processes.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse

from processes import circuits
from processes.models import Circuit, CircuitEvent, CircuitState, Redrive
from processes.workflow import registry


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
    steps = circuits.circuit_steps()
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
        model.objects.filter(step=OuterRef("step"), held_since__isnull=False)
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
    return circuits.redrivable(label, step).count()


def step_window(label: str, step: str) -> tuple[int, int]:
    """(service failures, finished attempts) in the step's window, as its circuit counts them."""
    return circuits.step_window(label, step)


def held_processes(label: str, step: str, *, limit: int = 10) -> list[dict]:
    """The processes that have waited longest at the step, with a link to each one's page."""
    model = registry.model_class(label)
    held = model.objects.filter(step=step, held_since__isnull=False).order_by("held_since")
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
