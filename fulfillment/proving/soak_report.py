"""The soak's report: its figures, read from the database once the run is over, and how they
are printed (fulfillment.proving.soak runs the soak)."""

from collections import Counter
from dataclasses import asdict, dataclass, field

from fulfillment.models import Order, OrderState
from fulfillment.proving.flow_waits import flow_waits
from fulfillment.proving.invariants import invariants_check, results_as_lines
from fulfillment.simulators.calls import busiest_window
from processes.models.flow import CircuitEvent, CircuitEventKind
from processes.models.journal import StepAttempt
from processes.models.process import RunStatus

CHUNK = 1000
# Circuit events the report keeps: enough for an opening, its probes and its close, several times.
HISTORY = 40


@dataclass
class SoakReport:
    """The soak's figures; `ok` only when every order came to rest and every invariant holds."""

    broker: str
    clusters: int
    workers: int
    faults: str
    seed: int
    placed: int = 0
    completed: int = 0
    cancelled: int = 0
    needs_attention: int = 0
    in_flight: int = 0
    lost: int = 0
    timed_out: bool = False
    kills: dict = field(default_factory=dict)
    cluster_starts: int = 0
    messages_dropped: int = 0
    attempts: dict = field(default_factory=dict)
    violations: dict = field(default_factory=dict)
    outage: dict = field(default_factory=dict)
    circuits_opened: int = 0  # circuits that opened (or re-opened) during the run
    circuit_history: list = field(default_factory=list)  # their events, with why (circuit_history)
    waits: dict = field(default_factory=dict)  # flow_waits: orders that waited, longest wait
    carrier_limit: float = 0.0
    carrier_busiest_second: int = 0  # the most label calls the carrier saw in any second
    kills_stopped_after: float | None = None  # seconds; None when the run ended first
    wedges_replaced: int = 0  # clusters their supervisors found wedged and replaced
    clusters_not_running: int = 0  # at the end, once the orders came to rest
    elapsed_seconds: float = 0.0
    log_dir: str = ""
    returns: dict = field(default_factory=dict)  # soak_returns.ReturnFigures, as a dict
    stock_not_counted_once: list = field(default_factory=list)  # soak stock row ids

    @property
    def orders_per_second(self) -> float:
        return round(self.placed / self.elapsed_seconds, 2) if self.elapsed_seconds else 0.0

    @property
    def ok(self) -> bool:
        broken = any(self.violations.values()) or self.stock_not_counted_once
        returns_moving = self.returns.get("in_flight", 0) or self.returns.get("lost", 0)
        return not (
            self.timed_out
            or self.lost
            or self.in_flight
            or broken
            or returns_moving
            or self.clusters_not_running
        )

    def as_dict(self) -> dict:
        counts = {name: len(ids) for name, ids in self.violations.items()}
        examples = {name: ids[:10] for name, ids in self.violations.items() if ids}
        return {
            **asdict(self),
            "violations": counts,
            "violation_examples": examples,
            "kills_total": sum(self.kills.values()),
            "orders_per_second": self.orders_per_second,
            "ok": self.ok,
        }

    def lines(self) -> list[str]:
        kills = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in self.kills.items())
        attempts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.attempts.items()))
        return [
            f"Soak: {self.placed} orders, {self.clusters} cluster(s) × {self.workers} workers, "
            f"{self.broker} broker, faults {self.faults}, seed {self.seed}",
            f"  orders placed        {self.placed}",
            f"  completed            {self.completed}",
            f"  cancelled            {self.cancelled}",
            f"  needs attention      {self.needs_attention}",
            f"  still in flight      {self.in_flight}{'  (TIMED OUT)' if self.timed_out else ''}",
            f"  lost                 {self.lost}",
            f"  kills done           {sum(self.kills.values())} ({kills}){self._drain_note()}",
            f"  cluster starts       {self.cluster_starts}",
            f"  wedged, replaced     {self.wedges_replaced}",
            f"  clusters not working {self.clusters_not_running} (after the orders came to rest)",
            f"  messages dropped     {self.messages_dropped}",
            *self._outage_lines(),
            *self._flow_lines(),
            *self._return_lines(),
            f"  step attempts        {attempts}",
            f"  elapsed              {self.elapsed_seconds:.1f}s",
            f"  orders per second    {self.orders_per_second}",
            "Invariants (violations):",
            *results_as_lines(self.violations),
            *self._stock_lines(),
            "RESULT: " + ("OK" if self.ok else "FAILED"),
        ]

    def _return_lines(self) -> list[str]:
        """What became of the returns the soak requested (fulfillment.proving.soak_returns)."""
        r = self.returns
        if not r:
            return []
        return [
            f"  returns requested    {r['requested']}: {r['completed']} completed, "
            f"{r['cancelled']} cancelled, {r['needs_attention']} needs attention, "
            f"{r['in_flight']} in flight, {r['lost']} lost",
            f"  returned             {r['lines_rejected']} lines rejected, {r['refunded']} refunded, "
            f"{r['units_restocked']} units back in stock",
            "  returns' attempts    "
            + ", ".join(f"{n} {outcome}" for outcome, n in sorted(r["attempts"].items())),
        ]

    def _stock_lines(self) -> list[str]:
        if not self.returns:
            return []
        bad, name = self.stock_not_counted_once, "soak_stock_counted_once"
        width = max((len(invariant) for invariant in self.violations), default=len(name))
        verdict = "VIOLATED" if bad else "ok"
        shown = f"  e.g. {', '.join(bad[:3])}" if bad else ""
        return [f"  {verdict:<8} {name:<{width}} {len(bad):>6}{shown}"]

    def _drain_note(self) -> str:
        if self.kills_stopped_after is None:
            return ""
        return f", none after {self.kills_stopped_after:g}s"

    def _flow_lines(self) -> list[str]:
        """Circuits opened, how long orders waited on flow control, the carrier's busiest second."""
        lines = [f"  circuits opened      {self.circuits_opened}"]
        lines += [f"    {event}" for event in self.circuit_history]
        for kind, label in (
            ("circuit", "circuit waits"),
            ("pace", "slowed-step waits"),
            ("limit", "limit waits"),
        ):
            wait = self.waits.get(kind, {})
            if wait.get("orders"):
                lines.append(f"  {label:<21}{wait['orders']} orders, longest {wait['longest']:g}s")
        if self.carrier_limit:
            lines.append(
                f"  carrier's busiest s  {self.carrier_busiest_second} label calls "
                f"(limit {self.carrier_limit:g}/s)"
            )
        return lines

    def _outage_lines(self) -> list[str]:
        """The outage, and the calls the service refused during it (by its own records)."""
        outage = self.outage
        if not outage:
            return []
        if not outage["began"]:
            return [f"  outage               {outage['service']} never went down (the run ended first)"]
        refused = ", ".join(f"{n} {operation}" for operation, n in outage["refused"].items()) or "none"
        return [
            f"  outage               {outage['service']} down {outage['seconds']:g}s "
            f"from {outage['began_after_seconds']:g}s",
            f"  refused in outage    {outage['refused_total']} ({refused})",
        ]


def report_flow(report: SoakReport, placed: list[str], began) -> None:
    """Circuits opened, waits on flow control and the carrier's busiest second, since `began`."""
    opened = [CircuitEventKind.OPENED, CircuitEventKind.REOPENED]
    report.circuits_opened = CircuitEvent.objects.filter(kind__in=opened, created_at__gte=began).count()
    report.circuit_history = circuit_history(began)
    report.waits = flow_waits(placed)
    if report.carrier_limit:
        operations = ["create_label", "void_label"]
        report.carrier_busiest_second, _ = busiest_window("carrier", operations=operations, since=began)


def circuit_history(began, *, limit: int = HISTORY) -> list[str]:
    """The circuits' events since `began`, oldest first, each with its seconds into the run: what
    opened one (the health it read), its probes and its close. A soak failed on a circuit then
    says why in its report."""
    events = CircuitEvent.objects.filter(created_at__gte=began).select_related("circuit")
    return [
        f"{(event.created_at - began).total_seconds():6.1f}s {event.circuit.where} {event.kind}: "
        f"{event.detail}"
        for event in events.order_by("created_at", "id")[:limit]
    ]


def report_outcomes(report: SoakReport, placed: list[str]) -> None:
    """Fill in the report's figures from the database, for the orders this soak placed."""
    states, found, flagged, moving = Counter(), 0, 0, 0
    attempts = Counter()
    for start in range(0, len(placed), CHUNK):
        chunk = Order.objects.filter(pk__in=placed[start : start + CHUNK])
        for state, status, attention in chunk.values_list("state", "run_status", "needs_attention"):
            found += 1
            states[state] += 1
            flagged += attention
            moving += status != RunStatus.FINISHED and not attention
        outcomes = StepAttempt.objects.filter(process_id__in=placed[start : start + CHUNK])
        attempts.update(dict(Counter(outcomes.values_list("outcome", flat=True))))
    report.placed, report.lost = len(placed), len(placed) - found
    report.completed, report.cancelled = states[OrderState.COMPLETED], states[OrderState.CANCELLED]
    report.needs_attention, report.in_flight = flagged, moving
    report.attempts = dict(attempts)
    report.violations = invariants_check(orders=Order.objects.filter(pk__in=placed))
