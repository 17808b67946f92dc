"""What must hold of the whole database, however the orders got there: the chaos soak's judge.

Each invariant is a small function returning its violations: the ids of the orders (or, for
stock, of the stock rows) that break it, so that a test can break one row on purpose and see
it caught. They read in whole sets, a few queries each, and compare our tables with the
external services' own ledgers (the simulators'), which are the truth about what was charged,
labelled and mailed. `invariants_check()` runs them all. The engine's own rules (nothing
stuck, state and status agree, the journal) hold of every process: they are checked on the
orders' returns too, whose ids then stand beside the orders'.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.db.models import (
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
)
from django.db.models.functions import Coalesce, Lag

from fulfillment.models import Order, OrderState, Payment, Reservation, Return, ReturnRefund, Stock
from fulfillment.notifications import confirmation_message_id
from fulfillment.proving import return_invariants as returns
from fulfillment.simulators.carrier import labels_bulk
from fulfillment.simulators.models import SentMail
from fulfillment.simulators.payment import ledger_bulk
from processes import clock, conf
from processes.models.journal import AttemptOutcome, EventKind, ProcessEvent, StepAttempt
from processes.models.process import RunStatus

TERMINAL = [OrderState.COMPLETED, OrderState.CANCELLED]
# Ledger look-ups go out in chunks, so that `IN (...)` lists stay a sane size.
CHUNK = 1000


def default_grace() -> float:
    """How late due work may be before it counts as stuck: the sweeper's redelivery delay plus
    a few sweeps, and a lease's grace. Anything later has been forgotten, not merely delayed."""
    return conf.get("REDELIVER_AFTER") + 10 * conf.get("SWEEP_INTERVAL") + conf.get("LEASE_GRACE")


def _scope(orders: QuerySet | None) -> QuerySet:
    return Order.objects.all() if orders is None else orders


def _ids(queryset: QuerySet) -> list[str]:
    return sorted(str(pk) for pk in queryset.values_list("pk", flat=True).distinct())


def _chunks(ids: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


# Nothing silently stuck.


def unfinished_without_wakeup(orders: QuerySet | None = None) -> list[str]:
    """Neither finished nor flagged, yet nothing is due: no sweeper will ever look at it again."""
    return _ids(
        _scope(orders).exclude(run_status=RunStatus.FINISHED).filter(needs_attention=False, next_run_at=None)
    )


def overdue_without_lease(
    orders: QuerySet | None = None, *, now: datetime | None = None, grace: float | None = None
) -> list[str]:
    """Due longer ago than the grace and held by no worker: the queue and the sweeper lost it."""
    cutoff = (now or clock.now()) - timedelta(seconds=default_grace() if grace is None else grace)
    return _ids(_scope(orders).filter(needs_attention=False, lease_owner="", next_run_at__lt=cutoff))


def expired_lease_left(
    orders: QuerySet | None = None, *, now: datetime | None = None, grace: float | None = None
) -> list[str]:
    """A worker's lease ran out longer ago than the grace and nobody took the order over."""
    cutoff = (now or clock.now()) - timedelta(seconds=default_grace() if grace is None else grace)
    leased = _scope(orders).exclude(lease_owner="")
    return _ids(leased.filter(Q(lease_until__lt=cutoff) | Q(lease_until=None)))


def status_contradicts_state(orders: QuerySet | None = None) -> list[str]:
    """The engine calls it finished but it is not completed or cancelled, or the other way round."""
    finished = Q(run_status=RunStatus.FINISHED)
    terminal = Q(state__in=TERMINAL)
    return _ids(_scope(orders).filter((finished & ~terminal) | (terminal & ~finished)))


# Money, per the payment gateway's ledger.


def _ledgers(orders: QuerySet) -> Iterable[tuple[str, Decimal, dict]]:
    rows = list(orders.values_list("pk", "total"))
    for chunk in _chunks(rows):
        books = ledger_bulk(str(pk) for pk, _ in chunk)
        for pk, total in chunk:
            yield str(pk), total, books[str(pk)]


def completed_not_charged_once(orders: QuerySet | None = None) -> list[str]:
    """A completed order was charged its total exactly once, and refunded only what its returns
    refunded: that sum, in one gateway refund per return that refunded anything."""
    completed = _scope(orders).filter(state=OrderState.COMPLETED)
    returned = {
        str(row["ret__order"]): (row["amount"], row["count"])
        for row in ReturnRefund.objects.filter(ret__order__in=completed)
        .exclude(refund_id="")
        .values("ret__order")
        .annotate(amount=Sum("amount"), count=Count("id"))
    }
    return sorted(
        pk
        for pk, total, book in _ledgers(completed)
        if (book["charges"], book["charged"], (book["refunded"], book["refunds"]))
        != (1, total, returned.get(pk, (Decimal(0), 0)))
    )


def cancelled_not_refunded(orders: QuerySet | None = None) -> list[str]:
    """A cancelled order nets to zero: every charge refunded, in full."""
    cancelled = _scope(orders).filter(state=OrderState.CANCELLED)
    return sorted(
        pk
        for pk, _total, book in _ledgers(cancelled)
        if book["charged"] != book["refunded"] or book["charges"] != book["refunds"]
    )


def refunded_beyond_charges(orders: QuerySet | None = None) -> list[str]:
    """Whatever its state, no order is refunded twice or for more than it was charged."""
    return sorted(
        pk
        for pk, _total, book in _ledgers(_scope(orders))
        if book["refunds"] > book["charges"] or book["refunded"] > book["charged"]
    )


def payment_records_disagree(orders: QuerySet | None = None) -> list[str]:
    """Our own books agree: a completed order holds a charged payment of its total, a cancelled
    one no payment still charged."""
    scope = _scope(orders)
    charged_in_full = Payment.objects.filter(order=OuterRef("pk"), status=Payment.Status.CHARGED)
    completed = scope.filter(state=OrderState.COMPLETED).exclude(
        pk__in=Subquery(charged_in_full.filter(amount=OuterRef("total")).values("order"))
    )
    cancelled = scope.filter(state=OrderState.CANCELLED, payment__status=Payment.Status.CHARGED)
    return sorted({*_ids(completed), *_ids(cancelled)})


# Stock: these two return stock row ids, since stock is shared by all orders.


def stock_out_of_bounds(orders: QuerySet | None = None) -> list[str]:
    """No stock row is negative, or promises more than it holds."""
    bad = Stock.objects.filter(Q(on_hand__lt=0) | Q(reserved__lt=0) | Q(reserved__gt=F("on_hand")))
    return _ids(bad)


def stock_reserved_mismatch(orders: QuerySet | None = None) -> list[str]:
    """A stock row's `reserved` equals the sum of its live reservations."""
    live = (
        Reservation.objects.filter(stock=OuterRef("pk"), released_at=None)
        .values("stock")
        .annotate(total=Sum("quantity"))
        .values("total")
    )
    counted = Stock.objects.annotate(live=Coalesce(Subquery(live, output_field=IntegerField()), Value(0)))
    return _ids(counted.exclude(reserved=F("live")))


def cancelled_holding_stock(orders: QuerySet | None = None) -> list[str]:
    """A cancelled order holds no live reservation."""
    holding = Reservation.objects.filter(order=OuterRef("pk"), released_at=None)
    return _ids(_scope(orders).filter(state=OrderState.CANCELLED).filter(Exists(holding)))


# Labels, per the carrier's ledger and our shipments.


def _live_labels(orders: QuerySet) -> Iterable[tuple[str, int, int]]:
    """(order id, live labels at the carrier, live shipments in our tables) for each order."""
    live = Count("shipments", filter=Q(shipments__voided_at=None))
    ours = {str(pk): n for pk, n in orders.annotate(live=live).values_list("pk", "live")}
    for chunk in _chunks(list(ours)):
        carrier = labels_bulk(chunk)
        for pk in chunk:
            yield pk, carrier[pk]["live"], ours[pk]


def completed_without_one_live_label(orders: QuerySet | None = None) -> list[str]:
    """A completed order has exactly one live label, at the carrier and in our shipments."""
    completed = _scope(orders).filter(state=OrderState.COMPLETED)
    return sorted(pk for pk, carrier, ours in _live_labels(completed) if (carrier, ours) != (1, 1))


def cancelled_with_live_label(orders: QuerySet | None = None) -> list[str]:
    """A cancelled order has no label that is not voided, at the carrier or in our shipments."""
    cancelled = _scope(orders).filter(state=OrderState.CANCELLED)
    return sorted(pk for pk, carrier, ours in _live_labels(cancelled) if carrier or ours)


# Mail, per the mailbox's ledger.


def mailed_more_than_once(orders: QuerySet | None = None) -> list[str]:
    """At most one message per order by Message-ID: a resent confirmation is a duplicate offer."""
    refs = [str(pk) for pk in _scope(orders).values_list("pk", flat=True)]
    doubled = []
    for chunk in _chunks(refs):
        per_order = (
            SentMail.objects.filter(reference__in=chunk)
            .values("reference")
            .annotate(messages=Count("message_id", distinct=True))
            .filter(messages__gt=1)
        )
        doubled.extend(row["reference"] for row in per_order)
    return sorted(doubled)


def completed_without_confirmation(orders: QuerySet | None = None) -> list[str]:
    """Every completed order's confirmation is in the mailbox, under its own Message-ID."""
    completed = list(_scope(orders).filter(state=OrderState.COMPLETED).values_list("pk", flat=True))
    missing = []
    for chunk in _chunks(completed):
        wanted = {confirmation_message_id(_Ref(pk)): str(pk) for pk in chunk}
        found = set(SentMail.objects.filter(message_id__in=wanted).values_list("message_id", flat=True))
        missing.extend(pk for message_id, pk in wanted.items() if message_id not in found)
    return sorted(missing)


@dataclass(frozen=True)
class _Ref:
    """Enough of an order to name its confirmation's Message-ID without loading the order."""

    pk: object


# The journal.


def journal_disagrees_with_state(orders: QuerySet | None = None) -> list[str]:
    """The last transition journalled for an order ends in the order's current state."""
    last = ProcessEvent.objects.filter(process_id=OuterRef("pk"), kind=EventKind.TRANSITION).order_by(
        "-created_at", "-id"
    )
    journalled = _scope(orders).annotate(journalled=Subquery(last.values("to_state")[:1]))
    return _ids(journalled.filter(Q(journalled=None) | ~Q(journalled=F("state"))))


def journal_chain_broken(orders: QuerySet | None = None) -> list[str]:
    """Each journalled transition starts where the one before it ended."""
    events = ProcessEvent.objects.filter(
        kind=EventKind.TRANSITION, process_id__in=_scope(orders).values("pk")
    ).annotate(
        previous=Window(Lag("to_state"), partition_by=[F("process_id")], order_by=[F("created_at"), F("id")])
    )
    broken = events.filter(previous__isnull=False).exclude(from_state=F("previous"))
    return sorted({str(pk) for pk in broken.values_list("process_id", flat=True)})


def attempt_running_without_lease(orders: QuerySet | None = None) -> list[str]:
    """An attempt still marked running belongs to an order leased under that attempt's fence."""
    leased = _scope(orders).filter(pk=OuterRef("process_id"), fence=OuterRef("fence")).exclude(lease_owner="")
    running = StepAttempt.objects.filter(
        outcome=AttemptOutcome.RUNNING, process_id__in=_scope(orders).values("pk")
    ).exclude(Exists(leased))
    return sorted({str(pk) for pk in running.values_list("process_id", flat=True)})


@dataclass(frozen=True)
class Invariant:
    """One rule, as the check prints it: a short name, what it says, and its function."""

    name: str
    check: Callable[..., list[str]]
    timed: bool = False  # takes `now` and `grace`
    # The engine's own rules, true of every process: checked on the orders' returns too.
    every_process: bool = False

    @property
    def description(self) -> str:
        return (self.check.__doc__ or "").split("\n\n")[0].replace("\n", " ").strip()


INVARIANTS = [
    Invariant("unfinished_without_wakeup", unfinished_without_wakeup, every_process=True),
    Invariant("overdue_without_lease", overdue_without_lease, timed=True, every_process=True),
    Invariant("expired_lease_left", expired_lease_left, timed=True, every_process=True),
    Invariant("status_contradicts_state", status_contradicts_state, every_process=True),
    Invariant("completed_not_charged_once", completed_not_charged_once),
    Invariant("cancelled_not_refunded", cancelled_not_refunded),
    Invariant("refunded_beyond_charges", refunded_beyond_charges),
    Invariant("payment_records_disagree", payment_records_disagree),
    Invariant("stock_out_of_bounds", stock_out_of_bounds),
    Invariant("stock_reserved_mismatch", stock_reserved_mismatch),
    Invariant("cancelled_holding_stock", cancelled_holding_stock),
    Invariant("completed_without_one_live_label", completed_without_one_live_label),
    Invariant("cancelled_with_live_label", cancelled_with_live_label),
    Invariant("mailed_more_than_once", mailed_more_than_once),
    Invariant("completed_without_confirmation", completed_without_confirmation),
    Invariant("journal_disagrees_with_state", journal_disagrees_with_state, every_process=True),
    Invariant("journal_chain_broken", journal_chain_broken, every_process=True),
    Invariant("attempt_running_without_lease", attempt_running_without_lease, every_process=True),
    Invariant("return_refund_not_accepted_amount", returns.return_refund_not_accepted_amount),
    Invariant("return_restocked_not_once", returns.return_restocked_not_once),
    Invariant("return_labels_wrong", returns.return_labels_wrong),
    Invariant("return_mailed_more_than_once", returns.return_mailed_more_than_once),
]


def invariants_check(*, orders: QuerySet | None = None, grace: float | None = None) -> dict[str, list[str]]:
    """Run every invariant over `orders` (default: all); returns the violations by name."""
    now = clock.now()
    returns = Return.objects.all() if orders is None else Return.objects.filter(order__in=orders)
    results = {}
    for invariant in INVARIANTS:
        check = partial(invariant.check, now=now, grace=grace) if invariant.timed else invariant.check
        found = check(orders)
        if invariant.every_process:
            found = sorted({*found, *check(returns)})
        results[invariant.name] = found
    return results


def orders_in_flight(orders: QuerySet | None = None) -> QuerySet:
    """Orders (or, given them, returns) that will still move by themselves: neither finished
    nor waiting for an operator."""
    return _scope(orders).exclude(run_status=RunStatus.FINISHED).filter(needs_attention=False)


def results_as_json(results: dict[str, list[str]], *, examples: int = 10) -> dict:
    return {name: {"violations": len(ids), "examples": ids[:examples]} for name, ids in results.items()}


def results_as_lines(results: dict[str, list[str]], *, examples: int = 3) -> list[str]:
    """One line per invariant: ok or VIOLATED, its count, and a few of the ids that break it."""
    width = max(len(name) for name in results)
    lines = []
    for invariant in INVARIANTS:
        ids = results[invariant.name]
        verdict = "VIOLATED" if ids else "ok"
        shown = f"  e.g. {', '.join(ids[:examples])}" if ids else ""
        lines.append(f"  {verdict:<8} {invariant.name:<{width}} {len(ids):>6}{shown}")
    return lines
