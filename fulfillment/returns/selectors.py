"""What the operator console reads about returns: search, the ledger cross-check of one, the
dashboard's figures and an order's returns.

Selectors only: nothing here writes. The timeline and the stuck condition are the order's
(fulfillment.monitoring), given the return's steps.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet

from fulfillment.gateways import label_ledger
from fulfillment.models import Order, Return, ReturnState
from fulfillment.monitoring import (
    PARTIAL_SEARCH_MIN,
    WHOLE_EMAIL,
    LedgerRow,
    order_ledger_check,
    process_state_counts,
    reconciled_step_in_flight,
    stuck_q,
    uuid_prefix_range,
)
from fulfillment.returns.workflow import RETURN_STEPS
from processes import clock

# Where finished returns end: past EXACT_COUNT_LIMIT in one, the dashboard shows an estimate.
RETURN_FINAL_STATES = (ReturnState.COMPLETED, ReturnState.CANCELLED)


def return_search_q(term: str) -> Q | None:
    """Returns matching an operator's search: a return's or its order's id (whole, or its first
    8+ hex digits), the customer's email (any case) or, from PARTIAL_SEARCH_MIN characters on,
    part of it."""
    term = term.strip()
    if not term:
        return None
    condition = Q(order__email__iexact=term)
    id_range = uuid_prefix_range(term)
    if id_range:
        low, high = id_range
        condition |= Q(pk__gte=low, pk__lte=high) | Q(order_id__gte=low, order_id__lte=high)
    elif len(term) >= PARTIAL_SEARCH_MIN and not WHOLE_EMAIL.fullmatch(term):
        condition |= Q(order__email__icontains=term)
    return condition


def return_stuck_q(now: datetime | None = None) -> Q:
    """Returns that need attention or have been in their step longer than it should take."""
    return stuck_q(now, steps=RETURN_STEPS)


def order_returns(order: Order) -> list[Return]:
    """The order's returns, newest first, with what each refunded."""
    return list(order.returns.select_related("refund").order_by("-created_at"))


@dataclass
class ReturnLedgerCheck:
    """A return's page's cross-check: the payment gateway's charge and refunds for the whole
    order (every return refunds against the one charge) beside our rows, and the carrier's
    labels for this return beside ours."""

    available: bool
    rows: list[LedgerRow] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return all(row.agrees for row in self.rows)


def return_ledger_check(ret: Return) -> ReturnLedgerCheck:
    """Compare the order's payment rows and refunds, and this return's labels, with what the
    gateway and the carrier hold (available when both can be read back)."""
    order = Order.objects.select_related("payment").get(pk=ret.order_id)
    payment = order_ledger_check(order)
    carrier = label_ledger(str(ret.pk))
    if not payment.available or carrier is None:
        return ReturnLedgerCheck(available=False)
    ours_live = ret.labels.filter(voided_at__isnull=True).count()
    rows = [
        LedgerRow.money("Charged (the order)", payment.ours_charged, payment.gateway_charged),
        LedgerRow.money(
            "Refunded (the order, all its returns)", payment.ours_refunded, payment.gateway_refunded
        ),
        LedgerRow(
            "Live return labels",
            str(ours_live),
            f"{carrier.live} (and {carrier.voided} voided)",
            ours_live == carrier.live,
        ),
    ]
    refund = getattr(ret, "refund", None)
    notes = list(payment.notes)
    if refund is not None:
        what = f"refund {refund.refund_id}" if refund.refund_id else "nothing asked of the gateway"
        notes.append(f"Of the order's refunds, this return's: {refund.amount:.2f} {order.currency} ({what}).")
    if not all(row.agrees for row in rows) and reconciled_step_in_flight(ret):
        notes.append(
            f"The return is at {ret.step}: an attempt whose answer was lost is recorded by its retry."
        )
    return ReturnLedgerCheck(available=True, rows=rows, notes=notes)


@dataclass(frozen=True)
class ReturnFigures:
    """The dashboard's returns: per state, needing attention, stuck."""

    per_state: list[tuple[str, str, int]]
    needs_attention: int
    stuck: int
    estimated_states: frozenset[str] = frozenset()  # whose figure in per_state is an estimate

    @property
    def total(self) -> int:
        return sum(n for _, _, n in self.per_state)


def return_dashboard_figures(now: datetime | None = None) -> ReturnFigures:
    """Returns per state (the final ones estimated past a limit, as the orders': counting them
    read the whole returns table, 12 ms at 41,000 returns), those needing attention and those
    stuck."""
    now = now or clock.now()
    counts, estimated = process_state_counts(
        Return, states=ReturnState.values, final_states=RETURN_FINAL_STATES
    )
    return ReturnFigures(
        per_state=[(value, label, counts.get(value, 0)) for value, label in ReturnState.choices],
        needs_attention=Return.objects.filter(needs_attention=True).count(),
        stuck=Return.objects.filter(return_stuck_q(now)).count(),
        estimated_states=estimated,
    )


def returns_page(queryset: QuerySet) -> QuerySet:
    """The return list's rows with what each row shows (its order, its refund)."""
    return queryset.select_related("order", "refund")
