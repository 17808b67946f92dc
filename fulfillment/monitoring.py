"""What the operator console reads: stuck orders, an order's timeline, the ledger cross-check and
the dashboard's figures.

Selectors only: nothing here writes. Every list query is shaped for an index on the order table
(see Order.Meta.indexes), so the pages stay fast with many orders.
"""

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncHour

from fulfillment.gateways import label_ledger, payment_ledger
from fulfillment.models import Order, OrderState, Payment, PickTask, ReturnRefund, Shipment
from fulfillment.workflow import ORDER_STEPS
from processes import clock
from processes.models.journal import AttemptOutcome, ProcessEvent, StepAttempt
from processes.models.process import Direction, RunStatus
from processes.workflow import Step, registry

ORDER_LABEL = Order._meta.label_lower
# Where finished orders end: these states only grow. Past EXACT_COUNT_LIMIT orders in one of
# them the dashboard shows PostgreSQL's estimate instead of counting most of an index.
FINAL_STATES = (OrderState.COMPLETED, OrderState.CANCELLED)
EXACT_COUNT_LIMIT = 20_000
PARTIAL_SEARCH_MIN = 3  # characters: a trigram index answers from three on
WHOLE_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def stuck_q(now: datetime | None = None, steps: list[Step] = ORDER_STEPS) -> Q:
    """Orders that need attention, or have been in their current step longer than it should take.

    One range condition per step of the workflow (`Step.expected_duration`; the order's, or the
    `steps` of another, a return's), each answered by the (step, step_started_at) index;
    finished processes have no step and never match.
    """
    now = now or clock.now()
    condition = Q(needs_attention=True)
    for step in steps:
        condition |= Q(step=step.name, step_started_at__lt=now - step.expected_duration)
    return condition


def step_choices(steps: list[Step] = ORDER_STEPS) -> list[tuple[str, str]]:
    """(name, what the console calls it) of every step an order (or a return, given its
    steps) can be at (Step.title)."""
    return [(step.name, step.title) for step in steps]


# --- One order ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEntry:
    """One line of an order's journal: a transition or note, or one attempt at a step."""

    at: datetime
    kind: str
    title: str
    actor: str = ""
    reason: str = ""
    error: str = ""
    duration_ms: int | None = None
    outcome: str = ""
    # Ties in time (one transaction): creation first, then the attempt, then what it caused.
    rank: int = 1


def process_timeline(process, *, limit: int = 500) -> list[TimelineEntry]:
    """The process's journal events and step attempts, oldest first, in two queries; each
    attempt in the words of its step, in whichever version of the workflow has it."""
    steps = _steps_by_name(process.label())
    events = ProcessEvent.objects.filter(process_id=process.pk).order_by("created_at", "id")[:limit]
    attempts = StepAttempt.objects.filter(process_id=process.pk).order_by("started_at", "id")[:limit]
    entries = [_event_entry(event) for event in events] + [_attempt_entry(a, steps) for a in attempts]
    return sorted(entries, key=lambda entry: (entry.at, entry.rank))[:limit]


order_timeline = process_timeline  # an order's, as its page and tests name it


def _event_entry(event: ProcessEvent) -> TimelineEntry:
    if event.kind == "transition":
        title = f"{event.from_state or '∅'} → {event.to_state}"
    else:
        title = event.get_kind_display()
    actor = f"{event.get_actor_type_display()} {event.actor}".strip()
    rank = -1 if event.transition == "create" else 1
    return TimelineEntry(
        at=event.created_at, kind=event.kind, title=title, actor=actor, reason=event.reason, rank=rank
    )


def _attempt_entry(attempt: StepAttempt, steps: dict[str, Step]) -> TimelineEntry:
    """A step's attempt in the step's own words: a wait step's attempt opens its person's task."""
    title = _step_named(steps, attempt.step).attempt_title(attempt.direction, attempt.attempt)
    error = (
        f"{attempt.error_class.rsplit('.', 1)[-1]}: {attempt.error_message}" if attempt.error_class else ""
    )
    return TimelineEntry(
        at=attempt.started_at,
        kind="attempt",
        title=title,
        actor=attempt.worker,
        error=error.rstrip(": "),
        duration_ms=attempt.duration_ms,
        outcome=attempt.outcome,
        rank=0,
    )


def _steps_by_name(label: str) -> dict[str, Step]:
    """Every step of the process's workflow, in any version (the oldest's where they share a name)."""
    versions = registry.versions(label)
    return {step.name: step for v in reversed(versions) for step in registry.for_model(label, v).steps}


def _step_named(steps: dict[str, Step], name: str) -> Step:
    """The step of that name in any workflow version; a plain Step for one no version has now."""
    step = steps.get(name)
    if step is None:
        step = Step()
        step.name = name
    return step


@dataclass
class LedgerCheck:
    """What the payment gateway and the carrier hold for an order beside what we recorded."""

    available: bool
    ours_charged: Decimal = Decimal(0)
    ours_refunded: Decimal = Decimal(0)
    gateway_charged: Decimal = Decimal(0)
    gateway_refunded: Decimal = Decimal(0)
    gateway_charges: int = 0
    ours_live_labels: int = 0
    carrier_live_labels: int = 0
    carrier_voided_labels: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def payment_agrees(self) -> bool:
        return (self.ours_charged, self.ours_refunded) == (self.gateway_charged, self.gateway_refunded)

    @property
    def labels_agree(self) -> bool:
        return self.ours_live_labels == self.carrier_live_labels

    @property
    def agrees(self) -> bool:
        return self.payment_agrees and self.labels_agree

    @property
    def rows(self) -> list["LedgerRow"]:
        """The cross-check's lines as the page shows them."""
        charges = f"{self.gateway_charges} charge{'s' if self.gateway_charges != 1 else ''}"
        return [
            LedgerRow.money("Charged", self.ours_charged, self.gateway_charged, f" ({charges})"),
            LedgerRow.money("Refunded", self.ours_refunded, self.gateway_refunded),
            LedgerRow(
                "Live labels",
                str(self.ours_live_labels),
                f"{self.carrier_live_labels} (and {self.carrier_voided_labels} voided)",
                self.labels_agree,
            ),
        ]


@dataclass(frozen=True)
class LedgerRow:
    """One line of a ledger cross-check: what we recorded beside what the service holds."""

    name: str
    ours: str
    theirs: str
    agrees: bool

    @classmethod
    def money(cls, name: str, ours: Decimal, theirs: Decimal, more: str = "") -> "LedgerRow":
        return cls(name, f"{ours:.2f}", f"{theirs:.2f}{more}", ours == theirs)


def order_ledger_check(order: Order) -> LedgerCheck:
    """Compare our Payment and Shipment rows with the gateway's and the carrier's own records.

    Available when both can be read back (gateways.ReadsPaymentLedger, ReadsLabelLedger): the
    simulators can; a real provider's client may.
    """
    gateway, carrier = payment_ledger(str(order.pk)), label_ledger(str(order.pk))
    if gateway is None or carrier is None:
        return LedgerCheck(available=False)
    check = LedgerCheck(
        available=True,
        gateway_charged=gateway.charged,
        gateway_refunded=gateway.refunded,
        gateway_charges=gateway.charges,
        ours_live_labels=order.shipments.filter(voided_at__isnull=True).count(),
        carrier_live_labels=carrier.live,
        carrier_voided_labels=carrier.voided,
    )
    payment = getattr(order, "payment", None)
    if payment is not None:
        check.ours_charged = payment.amount
        check.ours_refunded = payment.amount if payment.status == payment.Status.REFUNDED else Decimal(0)
    # What the order's returns refunded, in part, against the same charge.
    returned = (
        ReturnRefund.objects.filter(ret__order=order).exclude(refund_id="").aggregate(total=Sum("amount"))
    )
    check.ours_refunded += returned["total"] or Decimal(0)
    if not check.agrees and reconciled_step_in_flight(order):
        check.notes.append(
            f"The order is at {order.step}: an attempt whose answer was lost is recorded by its retry."
        )
    return check


def reconciled_step_in_flight(process) -> bool:
    """Whether the process is at a step whose effect the cross-check compares (Step.reconciled):
    a difference may then be an attempt whose answer was lost, until its retry records it."""
    if not process.step or process.run_status == RunStatus.FINISHED:
        return False
    return registry.for_process(process).step(process.step).reconciled


# --- The dashboard -----------------------------------------------------------------------------


@dataclass
class Dashboard:
    now: datetime
    per_state: list[tuple[str, str, int]]
    estimated_states: frozenset[str]  # whose figure in per_state is an estimate
    needs_attention: int
    stuck_total: int
    stuck_per_step: list[tuple[str, timedelta, int]]
    oldest_pick: PickTask | None
    failures_per_step: list[dict]
    completed_per_hour: list[tuple[datetime, int]]


def dashboard_figures(now: datetime | None = None, *, hours: int = 24) -> Dashboard:
    now = now or clock.now()
    counts, estimated = order_state_counts()
    stuck = dict(Order.objects.filter(stuck_q(now)).order_by().values_list("step").annotate(n=Count("pk")))
    return Dashboard(
        now=now,
        per_state=[(value, label, counts.get(value, 0)) for value, label in OrderState.choices],
        estimated_states=estimated,
        needs_attention=Order.objects.filter(needs_attention=True).count(),
        stuck_total=sum(stuck.values()),
        stuck_per_step=[(s.name, s.expected_duration, stuck.get(s.name, 0)) for s in ORDER_STEPS],
        oldest_pick=(
            PickTask.objects.filter(status__in=PickTask.OPEN_STATUSES)
            .select_related("warehouse")
            .order_by("created_at", "pk")
            .first()
        ),
        failures_per_step=failure_rates(now - timedelta(hours=1)),
        completed_per_hour=completed_per_hour(now, hours=hours),
    )


def order_state_counts() -> tuple[dict[str, int], frozenset[str]]:
    """Orders per state, and the states whose figure is PostgreSQL's estimate, not a count.

    The states of orders in flight are always counted, on the state index: that costs as much
    as there are orders in flight. A final state is counted while it holds fewer than
    EXACT_COUNT_LIMIT orders; beyond, counting would read most of an index (a tenth of a
    second at a million orders), so the planner's estimate stands in, kept current by
    autovacuum's ANALYZE (within a few per cent).
    """
    return process_state_counts(Order, states=OrderState.values, final_states=FINAL_STATES)


def process_state_counts(model, *, states: list[str], final_states) -> tuple[dict[str, int], frozenset[str]]:
    """Processes of `model` (orders, returns) per state, as `order_state_counts` explains: the
    `final_states` past EXACT_COUNT_LIMIT estimated, the others counted on the state index."""
    estimates = {state: _planned_rows(model.objects.filter(state=state).order_by()) for state in final_states}
    estimated = frozenset(s for s, n in estimates.items() if n is not None and n >= EXACT_COUNT_LIMIT)
    counted = [state for state in states if state not in estimated]
    rows = model.objects.filter(state__in=counted).order_by().values_list("state").annotate(n=Count("*"))
    return {**dict(rows), **{state: estimates[state] for state in estimated}}, estimated


def _planned_rows(queryset) -> int | None:
    """How many rows the planner expects `queryset` to return; None off PostgreSQL."""
    if connection.vendor != "postgresql":
        return None
    (plan,) = json.loads(queryset.explain(format="json"))
    return int(plan["Plan"]["Plan Rows"])


def failure_rates(since: datetime) -> list[dict]:
    """Finished attempts and failed ones per step (and direction) since `since`."""
    failed = ~Q(outcome=AttemptOutcome.SUCCEEDED)
    rows = (
        StepAttempt.objects.filter(process_type=ORDER_LABEL, started_at__gte=since)
        .exclude(outcome=AttemptOutcome.RUNNING)
        .order_by()
        .values("step", "direction")
        .annotate(total=Count("pk"), failed=Count("pk", filter=failed))
    )
    by_key = {(row["step"], row["direction"]): row for row in rows}
    result = []
    for step in ORDER_STEPS:
        for direction in (Direction.FORWARD, Direction.COMPENSATE):
            row = by_key.get((step.name, direction))
            if row is None and direction == Direction.COMPENSATE:
                continue
            total, failed_n = (row["total"], row["failed"]) if row else (0, 0)
            result.append(
                {
                    "step": step.name,
                    "direction": direction,
                    "total": total,
                    "failed": failed_n,
                    "rate": failed_n / total if total else None,
                }
            )
    return result


def completed_per_hour(now: datetime, *, hours: int = 24) -> list[tuple[datetime, int]]:
    """Orders completed in each of the last `hours` whole hours, the current one included."""
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    rows = (
        Order.objects.filter(state=OrderState.COMPLETED, state_changed_at__gte=first)
        .annotate(hour=TruncHour("state_changed_at"))
        .order_by()
        .values_list("hour")
        .annotate(n=Count("*"))  # not Count("pk"): COUNT(*) lets the state index answer alone
    )
    counts = {hour: n for hour, n in rows}
    return [(first + timedelta(hours=i), counts.get(first + timedelta(hours=i), 0)) for i in range(hours)]


def order_search_q(term: str) -> Q | None:
    """Orders matching an operator's search, each part answered by an index.

    An order id (whole, or its first 8+ hex digits as the list shows them), a customer email
    (any case), a payment charge id or a tracking number; from PARTIAL_SEARCH_MIN characters on,
    unless the term is an id prefix or a whole address (precise terms get the precise, cheapest
    answer), also part of the email or of the customer's name (the trigram indexes order_email_trgm and
    order_customer_name_trgm; fewer characters than a trigram would read the whole index). The
    charge and tracking lookups run first, so the final filter is a plain OR of index conditions.
    """
    term = term.strip()
    if not term:
        return None

    ids = list(Payment.objects.filter(charge_id=term).values_list("order_id", flat=True))
    ids += Shipment.objects.filter(tracking_number=term).values_list("order_id", flat=True)
    condition = Q(email__iexact=term) | Q(pk__in=ids)
    id_range = uuid_prefix_range(term)
    if id_range:
        condition |= Q(pk__gte=id_range[0], pk__lte=id_range[1])
    elif len(term) >= PARTIAL_SEARCH_MIN and not WHOLE_EMAIL.fullmatch(term):
        condition |= Q(email__icontains=term) | Q(shipping_address__name__icontains=term)
    return condition


def uuid_prefix_range(term: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    digits = term.replace("-", "").lower()
    if not 8 <= len(digits) <= 32 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return uuid.UUID(digits.ljust(32, "0")), uuid.UUID(digits.ljust(32, "f"))
