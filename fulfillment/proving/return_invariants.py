"""What must hold of returns, however they got there (beside fulfillment.proving.invariants).

Each takes the orders in scope (None: all) and returns the ids of the returns that break it,
checked against the carrier simulator's and the mailbox's own ledgers where they keep one. The
money of an order's returns is checked with the order's (`completed_not_charged_once`,
`refunded_beyond_charges`).
"""

from django.db.models import Count, F, Q, QuerySet

from fulfillment.models import Return, ReturnLine, ReturnState
from fulfillment.simulators.carrier import labels_bulk
from fulfillment.simulators.models import SentMail

R = ReturnState
REFUNDED = [R.REFUNDED, R.RESTOCKED, R.COMPLETED]
# Mailbox look-ups go out in chunks, so that `IN (...)` lists stay a sane size.
CHUNK = 1000
LABELLED = [R.LABEL_CREATED, R.AWAITING_PARCEL, R.PARCEL_RECEIVED, R.INSPECTING, R.INSPECTED, *REFUNDED]


def _returns(orders: QuerySet | None) -> QuerySet:
    return Return.objects.all() if orders is None else Return.objects.filter(order__in=orders)


def _ids(queryset) -> list[str]:
    return sorted({str(pk) for pk in queryset})


def return_refund_not_accepted_amount(orders: QuerySet | None = None) -> list[str]:
    """A refunded return's refund is its accepted lines' amount, exactly."""
    bad = []
    for ret in (
        _returns(orders)
        .filter(state__in=REFUNDED)
        .select_related("refund")
        .prefetch_related("lines__order_line")
    ):
        if ret.refund.amount != ret.accepted_amount():
            bad.append(ret.pk)
    return _ids(bad)


def return_restocked_not_once(orders: QuerySet | None = None) -> list[str]:
    """A restocked return put each accepted line's units back once, and no rejected unit."""
    restocked = _returns(orders).filter(state__in=[R.RESTOCKED, R.COMPLETED])
    lines = ReturnLine.objects.filter(ret__in=restocked)
    accepted_missed = lines.filter(verdict=ReturnLine.Verdict.ACCEPTED).filter(
        Q(restock__isnull=True) | ~Q(restock__quantity=F("quantity"))
    )
    rejected_back = lines.exclude(verdict=ReturnLine.Verdict.ACCEPTED).filter(restock__isnull=False)
    return _ids(
        [*accepted_missed.values_list("ret", flat=True), *rejected_back.values_list("ret", flat=True)]
    )


def return_labels_wrong(orders: QuerySet | None = None) -> list[str]:
    """A labelled return has one live label, at the carrier and in our rows; a cancelled one none."""
    scope = _returns(orders).filter(state__in=[*LABELLED, R.CANCELLED])
    ours = dict(
        scope.annotate(live=Count("labels", filter=Q(labels__voided_at=None))).values_list("pk", "live")
    )
    states = dict(scope.values_list("pk", "state"))
    carrier = labels_bulk(str(pk) for pk in ours) if ours else {}
    bad = []
    for pk, live in ours.items():
        wanted = 0 if states[pk] == R.CANCELLED else 1
        if (carrier[str(pk)]["live"], live) != (wanted, wanted):
            bad.append(pk)
    return _ids(bad)


def return_mailed_more_than_once(orders: QuerySet | None = None) -> list[str]:
    """A return mails its customer once: its confirmation or its closing notice, never both,
    and never a second message of either under another Message-ID.

    A retried send is not a duplicate: it offers the same fixed Message-ID
    (fulfillment.returns.mail), which the mailbox drops. So, as for orders, a return with
    more than one Message-ID in the mailbox (its mail's X-Reference is the return's id) sent
    its customer a second email about the same return.
    """
    refs = [str(pk) for pk in _returns(orders).values_list("pk", flat=True)]
    doubled = []
    for start in range(0, len(refs), CHUNK):
        per_return = (
            SentMail.objects.filter(reference__in=refs[start : start + CHUNK])
            .values("reference")
            .annotate(messages=Count("message_id", distinct=True))
            .filter(messages__gt=1)
        )
        doubled.extend(row["reference"] for row in per_return)
    return _ids(doubled)
