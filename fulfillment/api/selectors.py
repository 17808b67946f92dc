"""Reads the API's views share: a client's orders, with everything their representation needs.

Why each order waits is attached for a whole page by `order_waiting_attach`, with the circuits
that hold any of them read in one query.

The journal (step attempts and transitions) has no foreign key to the order, so it is loaded
for a whole page in two queries by `order_journal_attach`, never per order.

An order just placed is represented from what its placement wrote (`order_placed_attach`): the
answer to POST /api/orders/ reads only its journal's transitions again, not the order, its lines,
its labels and its step attempts, which the placement made (or knows there are none of).
"""

from collections import defaultdict
from collections.abc import Sequence

from django.db.models import Prefetch, QuerySet

from fulfillment.models import Order, OrderLine, Return, ReturnLine, Shipment
from processes import clock
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from processes.waiting_reason import circuits_for, waiting_reason


def order_list_for_client(*, client) -> QuerySet[Order]:
    """The client's orders, newest first, with their lines and live label prefetched."""
    return (
        Order.objects.filter(owner=client)
        .select_related("pick_task__assignee")  # the waiting sentence reads the pick task
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


def order_placed_attach(order: Order) -> Order:
    """Attach to an order `order_place` has just created, in the request that created it, what
    its representation needs, as `order_list_for_client` and the attach functions below would
    load it: its lines as placed (ordered by id, as their default ordering), no live label, no
    step attempt (the placing transaction claims none), its transitions (its creation), and why
    it waits."""
    lines = order.lines.all()
    lines._result_cache = sorted(order.placed_lines, key=lambda line: line.pk)
    lines._prefetch_done = True
    order._prefetched_objects_cache = {"lines": lines}  # what prefetch_related would leave
    order.live_shipments = []
    order.journal_attempts = []
    order.journal_transitions = list(
        ProcessEvent.objects.filter(
            process_type=Order._meta.label_lower, process_id=order.pk, kind=EventKind.TRANSITION
        ).order_by("created_at", "id")
    )
    order_waiting_attach([order])
    return order


def order_journal_attach(orders: Sequence[Order]) -> Sequence[Order]:
    """Load the step attempts and transitions of these orders in two queries and attach them."""
    return journal_attach(orders, label=Order._meta.label_lower)


def return_list_for_client(*, client) -> QuerySet[Return]:
    """The returns of the client's orders, newest first, with their lines."""
    return (
        Return.objects.filter(order__owner=client)
        .prefetch_related(Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line")))
        .order_by("-created_at", "-pk")
    )


def journal_attach(processes: Sequence, *, label: str) -> Sequence:
    """Load the step attempts and transitions of these processes (of one model, `label`) in two
    queries and attach them as `journal_attempts` and `journal_transitions`."""
    ids = [process.pk for process in processes]
    attempts, transitions = defaultdict(list), defaultdict(list)
    for attempt in StepAttempt.objects.filter(process_type=label, process_id__in=ids).order_by(
        "started_at", "id"
    ):
        attempts[attempt.process_id].append(attempt)
    for event in ProcessEvent.objects.filter(
        process_type=label, process_id__in=ids, kind=EventKind.TRANSITION
    ).order_by("created_at", "id"):
        transitions[event.process_id].append(event)
    for process in processes:
        process.journal_attempts = attempts[process.pk]
        process.journal_transitions = transitions[process.pk]
    return processes


def order_waiting_attach(orders: Sequence[Order]) -> Sequence[Order]:
    """Attach why each order waits (processes.waiting_reason), reading the circuits that hold any
    of them in one query."""
    circuits, now = circuits_for(orders), clock.now()
    for order in orders:
        order.waiting = waiting_reason(order, now=now, circuits=circuits)
    return orders
