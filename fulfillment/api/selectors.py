"""Reads the API's views share: a client's orders, with everything their representation needs.

The journal (step attempts and transitions) has no foreign key to the order, so it is loaded
for a whole page in two queries by `order_journal_attach`, never per order.
"""

from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Prefetch, QuerySet

from fulfillment.models import Order, OrderLine, Shipment
from processes.models.journal import EventKind, ProcessEvent, StepAttempt


def order_list_for_client(*, client) -> QuerySet[Order]:
    """The client's orders, newest first, with their lines and live label prefetched."""
    return (
        Order.objects.filter(owner=client)
        .prefetch_related(
            Prefetch("lines", queryset=OrderLine.objects.only("order_id", "sku", "quantity", "unit_price")),
            Prefetch(
                "shipments",
                queryset=Shipment.objects.filter(voided_at__isnull=True).only("order_id", "tracking_number"),
                to_attr="live_shipments",
            ),
        )
        .order_by("-created_at", "-pk")
    )


def order_journal_attach(orders: Sequence[Order]) -> Sequence[Order]:
    """Load the step attempts and transitions of these orders in two queries and attach them."""
    ids = [order.pk for order in orders]
    label = Order._meta.label_lower
    attempts, transitions = defaultdict(list), defaultdict(list)
    for attempt in StepAttempt.objects.filter(process_type=label, process_id__in=ids).order_by(
        "started_at", "id"
    ):
        attempts[attempt.process_id].append(attempt)
    for event in ProcessEvent.objects.filter(
        process_type=label, process_id__in=ids, kind=EventKind.TRANSITION
    ).order_by("created_at", "id"):
        transitions[event.process_id].append(event)
    for order in orders:
        order.journal_attempts = attempts[order.pk]
        order.journal_transitions = transitions[order.pk]
    return orders
