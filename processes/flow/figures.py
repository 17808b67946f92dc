"""What the Incidents page, an order's page, the dashboard and the metrics read about flow
control (reads only).

One `StepFlow` per step with flow control and flow key: its circuit, its health and who waits.
Every figure and sentence a page shows about a step comes from one StepFlow, read once, so
"slowed" and its figures, or "stopped" and its next probe, never disagree on one page. Every
step is shown, not only those that ever failed, so an operator can pause a step before its
service fails; the waiting counts come in one grouped query per process model over its
partial `held` index, whatever the number of processes.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db.models import Count, Max
from django.urls import NoReverseMatch, reverse

from processes import clock
from processes.flow import breaker, operators
from processes.flow.health import Health, health
from processes.models.flow import Circuit, CircuitEvent, CircuitEventKind, CircuitState, Redrive, where
from processes.models.journal import StepAttempt
from processes.models.process import Hold
from processes.policies import CircuitPolicy, ServiceLimit
from processes.workflow import registry

NORMAL, DEGRADED, SLOWED = "normal", "degraded", "slowed"
STOPPED, PROBING, PAUSED = "stopped", "probing", "paused"
CONDITIONS = {
    NORMAL: "Normal",
    DEGRADED: "Degraded",
    SLOWED: "Slowed",
    STOPPED: "Stopped",
    PROBING: "Probing",
    PAUSED: "Paused",
}


@dataclass(frozen=True)
class StepFlow:
    """One step (and flow key) with flow control, as it is right now."""

    label: str
    step: str
    key: str
    workflow: str
    policy: CircuitPolicy
    health: Health
    circuit: Circuit | None = None
    held: int = 0  # waiting for the circuit (stopped, probing, paused)
    paced: int = 0  # waiting their turn at a slowed service
    limited: int = 0  # waiting their turn under the service's published limit
    limit: ServiceLimit | None = None
    noun: str = "processes"  # what the workflow runs, in the plural ("orders")
    one: str = "process"  # and one of them ("order")

    @property
    def state(self) -> str:
        return self.circuit.state if self.circuit else CircuitState.CLOSED

    @property
    def state_display(self) -> str:
        return CircuitState(self.state).label

    @property
    def where(self) -> str:
        return where(self.step, self.key)

    @property
    def admitted_percent(self) -> int:
        return round(100 * self.health.admitted_share(self.policy))

    @property
    def condition(self) -> str:
        return {
            CircuitState.OPEN: STOPPED,
            CircuitState.HALF_OPEN: PROBING,
            CircuitState.PAUSED: PAUSED,
        }.get(self.state) or self._running()

    def _running(self) -> str:
        if self.health.slowed(self.policy):
            return SLOWED
        return DEGRADED if self.health.degraded(self.policy) else NORMAL

    @property
    def condition_display(self) -> str:
        return CONDITIONS[self.condition]

    @property
    def waiting(self) -> int:
        return self.held + self.paced + self.limited

    @property
    def status(self) -> str:
        """What is going on, in one sentence whose figures are those the page shows."""
        circuit, seen = self.circuit, self.health
        calls = f"{seen.failed_calls} of its last {seen.calls} calls failed ({seen.percent_failed} %)"
        since = f"{circuit.incident_since:%H:%M:%S}" if circuit and circuit.incident_since else ""
        if self.condition == STOPPED:
            nxt = f", next probe at {circuit.probe_at:%H:%M:%S}" if circuit.probe_at else ""
            return f"stopped: outage since {since}{nxt} UTC ({circuit.reason})"
        if self.condition == PROBING:
            trying = (
                f"one {self.one} is trying the service"
                if circuit.probe_process
                else f"probe {circuit.probe_failures} failed, another {self.one} tries next"
            )
            return f"probing: outage since {since} UTC; {trying}"
        if self.condition == PAUSED:
            until = "until resumed"
            if circuit.paused_until:
                until = f"until {circuit.paused_until:%Y-%m-%d %H:%M} UTC"
            return f"paused by {circuit.paused_by or 'an operator'} {until}: {circuit.reason}"
        if self.condition == SLOWED:
            return (
                f"slowed: {calls} in the last {seen.window_seconds:g}s, for {seen.failing} "
                f"{self.noun}; calls at {self.admitted_percent} % of the normal rate"
            )
        if self.condition == DEGRADED:
            return (
                f"degraded: {calls} in the last {seen.window_seconds:g}s, for {seen.failing} "
                f"{self.noun}; calls at the full rate while it answers more than "
                f"{round(100 / self.policy.multiplier)} %"
            )
        return f"normal: {calls} in the last {seen.window_seconds:g}s"


@dataclass
class Incident:
    """A step (and key) whose circuit is or was recently not closed, or that is slowed now."""

    flow: StepFlow
    errors: list[dict] = field(default_factory=list)
    alerts: int = 0
    redrive: Redrive | None = None

    @property
    def circuit(self) -> Circuit | None:
        return self.flow.circuit

    @property
    def held(self) -> int:
        return self.flow.held

    @property
    def since(self) -> datetime | None:
        return _began(self.flow)


def flows(now: datetime | None = None) -> list[StepFlow]:
    """Every step with flow control, for each of its flow keys (those of its circuits and of
    its recent calls; '' when it has none), in workflow and step order."""
    now = now or clock.now()
    circuits = {(c.process_type, c.step, c.key): c for c in Circuit.objects.all()}
    wanted = set(circuits)
    steps = circuit_steps()
    recent = now - timedelta(seconds=max((p.window_seconds for p in _policies(steps)), default=60))
    keyed = StepAttempt.objects.filter(started_at__gte=recent, step__in=[step for _, step in steps])
    for label, step, key in keyed.values_list("process_type", "step", "flow_key").distinct():
        wanted.add((label, step, key))
    for label, step in steps:
        if not any((label, step) == found[:2] for found in wanted):
            wanted.add((label, step, ""))
    waiting = _waiting({label for label, _ in steps})
    return [
        _flow(label, step, key, circuits.get((label, step, key)), waiting, now)
        for label, step, key in sorted(wanted)
        if (label, step) in steps
    ]


def flow_for(label: str, step: str, key: str = "", now: datetime | None = None) -> StepFlow | None:
    """The step's flow for one key, or None for a step without flow control."""
    if (label, step) not in circuit_steps():
        return None
    circuit = Circuit.objects.filter(process_type=label, step=step, key=key).first()
    return _flow(label, step, key, circuit, _waiting({label}, step=step), now or clock.now())


def _flow(label, step, key, circuit, waiting, now) -> StepFlow:
    policy = step_policy(label, step)
    since = circuit.closed_at if circuit and circuit.state == CircuitState.CLOSED else None
    return StepFlow(
        label=label,
        step=step,
        key=key,
        workflow=workflow_name(label),
        policy=policy,
        health=health(label, step, key, policy, now, since=since),
        circuit=circuit,
        held=waiting.get((label, step, key, Hold.CIRCUIT), 0),
        paced=waiting.get((label, step, key, Hold.PACE), 0),
        limited=waiting.get((label, step, key, Hold.LIMIT), 0),
        limit=found.limit if (found := breaker.workflow_step(label, step)) else None,
        noun=str(registry.model_class(label)._meta.verbose_name_plural),
        one=str(registry.model_class(label)._meta.verbose_name),
    )


def _waiting(labels: set[str], *, step: str | None = None) -> dict[tuple, int]:
    """{(label, step, key, held by): processes}, one grouped query per model on its held index."""
    counts = {}
    for label in labels:
        held = registry.model_class(label).objects.filter(held_since__isnull=False)
        if step is not None:
            held = held.filter(step=step)
        rows = held.order_by().values("step", "held_by", "held_key").annotate(n=Count("pk"))
        counts.update({(label, r["step"], r["held_key"], r["held_by"]): r["n"] for r in rows})
    return counts


def incidents(*, recent: timedelta = timedelta(hours=24)) -> list[Incident]:
    """The steps that are stopped, probing, paused or slowed now, or whose circuit closed
    within `recent`, newest incident first."""
    now = clock.now()
    shown = [
        flow
        for flow in flows(now)
        if flow.condition != NORMAL or (flow.circuit and _closed_since(flow.circuit, now - recent))
    ]
    shown.sort(key=lambda flow: _began(flow) or now, reverse=True)
    return [_incident(flow, now) for flow in shown]


def _began(flow: StepFlow) -> datetime | None:
    return flow.circuit.incident_since if flow.circuit else None


def _closed_since(circuit: Circuit, moment: datetime) -> bool:
    return circuit.closed_at is not None and circuit.closed_at >= moment


def describe(circuit: Circuit, now: datetime | None = None) -> Incident:
    """The incident of one circuit row (its step and key)."""
    now = now or clock.now()
    flow = flow_for(circuit.process_type, circuit.step, circuit.key, now)
    return _incident(flow, now)


def _incident(flow: StepFlow, now: datetime) -> Incident:
    circuit = flow.circuit
    # The failures that opened the circuit happened in the window before it opened.
    began = circuit.incident_since if circuit and circuit.incident_since else now
    since = began - timedelta(seconds=flow.policy.window_seconds)
    errors = (
        StepAttempt.objects.filter(
            process_type=flow.label,
            step=flow.step,
            flow_key=flow.key,
            started_at__gte=since,
            service_failed=True,
        )
        .values("error_class", "error_message")
        .annotate(count=Count("id"), last=Max("finished_at"))
        .order_by("-last")[:10]
    )
    return Incident(
        flow=flow,
        errors=list(errors),
        alerts=circuit.events.filter(kind=CircuitEventKind.ALERT).count() if circuit else 0,
        redrive=circuit.redrives.first() if circuit else None,
    )


def circuit_steps() -> list[tuple[str, str]]:
    """(process label, step name) of every step that has a circuit, in every registered version."""
    found = {
        (workflow.model.lower(), step.name)
        for workflow in registry.all()
        for step in workflow.steps
        if step.circuit is not None
    }
    return sorted(found)


def _policies(steps) -> list[CircuitPolicy]:
    return [step_policy(label, step) for label, step in steps]


def step_policy(label: str, step: str) -> CircuitPolicy | None:
    """The circuit policy of the workflow's step, from the newest version that gives it one."""
    for version in reversed(registry.versions(label)):
        workflow = registry.for_model(label, version)
        if step in workflow.step_names() and workflow.step(step).circuit is not None:
            return workflow.step(step).circuit
    return None


def workflow_name(label: str) -> str:
    try:
        return registry.newest(label).name
    except LookupError:
        return label


def open_incident_count() -> int:
    """Circuits that are open, probing or paused right now."""
    return Circuit.objects.exclude(state=CircuitState.CLOSED).count()


def redrivable_count(label: str, step: str) -> int:
    """Processes a redrive of the step would retry now."""
    return operators.redrivable(label, step).count()


def held_processes(label: str, step: str, key: str = "", *, limit: int = 10) -> list[dict]:
    """The processes that have waited longest at the step (for its circuit or their turn),
    with a link to each one's page."""
    model = registry.model_class(label)
    held = model.objects.filter(step=step, held_since__isnull=False, held_key=key).order_by("held_since")
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_change"
    rows = []
    for pk, since, held_by in held.values_list("pk", "held_since", "held_by")[:limit]:
        try:
            url = reverse(name, args=[pk])
        except NoReverseMatch:
            url = ""
        rows.append({"id": pk, "held_since": since, "url": url, "on": _hold_label(held_by)})
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


def hold_explanation(process) -> dict | None:
    """Why a held process waits at its step, for its page: since when, on what, the step's
    status sentence and the step's page; None when it is not held."""
    if process.held_since is None:
        return None
    flow = flow_for(process.label(), process.step, process.held_key)
    if flow is None:
        return None
    try:
        url = reverse("admin:processes_circuit_step", args=[flow.label, flow.step])
        url = f"{url}?{urlencode({'key': flow.key})}" if flow.key else url
    except NoReverseMatch:
        url = ""
    return {
        "since": process.held_since,
        "on": _hold_label(process.held_by),
        "where": flow.where,
        "status": flow.status,
        "limit": str(flow.limit) if flow.limit and process.held_by == Hold.LIMIT else "",
        "next_look": process.next_run_at,
        "url": url,
    }


def _hold_label(held_by: str) -> str:
    return Hold(held_by).label if held_by in Hold.values else held_by or "its step"


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""
