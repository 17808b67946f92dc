"""Returns in the chaos soak: some completed orders are sent back while the clusters are killed.

The soak process is the client and the warehouse for them, through the services the API, the
carrier's webhook and the warehouse pages call: it requests a return of a share of the orders
that complete (`return_request`), cancels a few before their parcel comes (`return_cancel`),
says the others' parcels arrived (`return_parcel_received`) and inspects them, rejecting a
share of the lines (`inspection_complete`). The clusters run the rest under the soak's faults.

Its verdict beside the invariants (which hold the returns to their refunds, restocks and labels,
and to the engine's rules): every return requested came to rest, and the soak's stock was
counted once, on hand now exactly what it was plus the units the returns put back.
"""

import random
from collections import Counter
from contextlib import suppress
from dataclasses import asdict, dataclass, field

from django.db.models import Q, Sum

from fulfillment.errors import InvalidReturn, ReturnNotAllowed
from fulfillment.models import Order, OrderState, Return, ReturnRestock, Stock, Warehouse
from fulfillment.returns.inspection import INSPECT_STEP, LineVerdict, inspection_complete
from fulfillment.returns.parcels import AWAIT_PARCEL_STEP, return_parcel_received
from fulfillment.returns.requests import ReturnLineRequest, return_cancel, return_request
from processes.journal import Actor
from processes.models.journal import ActorType, StepAttempt
from processes.models.process import RunStatus

CLIENT = Actor("client", "soak")
CARRIER = Actor(ActorType.SYSTEM, "soak-carrier")
INSPECTOR = Actor(ActorType.WORKER, "soak-inspector")
CANCELLED_SHARE = 0.1  # of the returns: the client changes its mind before sending the parcel
REJECTED_SHARE = 0.2  # of the lines inspected: worn, not refunded, not back in stock
# What a return the soak moves on may answer when something else moved it first (a cancel
# racing the parcel, the parcel's deadline): the soak leaves it to the engine.
REFUSALS = (InvalidReturn, ReturnNotAllowed)


@dataclass
class ReturnFigures:
    """What became of the returns the soak requested."""

    requested: int = 0
    completed: int = 0
    cancelled: int = 0
    needs_attention: int = 0
    in_flight: int = 0
    lost: int = 0
    lines_rejected: int = 0
    refunded: str = "0"
    units_restocked: int = 0
    attempts: dict = field(default_factory=dict)  # the returns' step attempts, by outcome
    stock_not_counted_once: list = field(default_factory=list)  # soak stock row ids

    def as_dict(self) -> dict:
        return asdict(self)


class SoakReturns:
    """The soak's returns: requested as orders complete, then moved on as a person would."""

    def __init__(self, share: float, rng: random.Random):
        self.share, self.rng = share, rng
        self.requested: list[str] = []
        self.moving: set[str] = set()

    def orders_at_rest(self, order_ids: set[str]) -> None:
        """Return a share of the orders that just came to rest completed: one line, some units."""
        if not self.share or not order_ids:
            return
        for order in Order.objects.filter(pk__in=list(order_ids), state=OrderState.COMPLETED).order_by("pk"):
            if self.rng.random() < self.share:
                self._request(order)

    def take(self) -> None:
        """Move on each return waiting for the client's parcel or the inspection; note which came
        to rest (finished, or waiting for an operator)."""
        waiting = Return.objects.filter(
            pk__in=list(self.moving), run_status=RunStatus.WAITING, needs_attention=False
        )
        for ret in waiting.filter(step__in=[AWAIT_PARCEL_STEP, INSPECT_STEP]).order_by("pk"):
            with suppress(*REFUSALS):
                self._answer(ret)
        self.moving -= at_rest(Return, self.moving)

    def _request(self, order: Order) -> None:
        line = self.rng.choice(list(order.lines.all()))
        units = ReturnLineRequest(line.pk, self.rng.randint(1, line.quantity))
        try:
            ret = return_request(order=order, lines=[units], reason="Soak: sent back", actor=CLIENT)
        except REFUSALS:
            return
        self.requested.append(str(ret.pk))
        self.moving.add(str(ret.pk))

    def _answer(self, ret: Return) -> None:
        if ret.step == AWAIT_PARCEL_STEP:
            if self.rng.random() < CANCELLED_SHARE:
                return_cancel(ret=ret, actor=CLIENT, reason="soak: kept the items")
                return
            label = ret.labels.filter(voided_at__isnull=True).first()
            if label is not None:
                return_parcel_received(tracking_number=label.tracking_number, actor=CARRIER)
            return
        verdicts = [
            LineVerdict(line.pk, True)
            if self.rng.random() >= REJECTED_SHARE
            else LineVerdict(line.pk, False, "Soak: worn")
            for line in ret.lines.all()
        ]
        inspection_complete(ret=ret, verdicts=verdicts, actor=INSPECTOR)


def at_rest(model, ids: set[str]) -> set[str]:
    """Which of these processes are finished or wait for an operator."""
    rest = model.objects.filter(pk__in=list(ids)).filter(
        Q(run_status=RunStatus.FINISHED) | Q(needs_attention=True)
    )
    return {str(pk) for pk in rest.values_list("pk", flat=True)}


def stock_on_hand(warehouse: Warehouse) -> dict[int, int]:
    return dict(Stock.objects.filter(warehouse=warehouse).values_list("pk", "on_hand"))


def return_figures(
    returns: SoakReturns, *, warehouse: Warehouse, on_hand_before: dict[int, int]
) -> ReturnFigures:
    """The returns' outcomes, read from the database once the run is over."""
    rows = Return.objects.filter(pk__in=returns.requested)
    states, flagged, moving = Counter(), 0, 0
    for state, status, attention in rows.values_list("state", "run_status", "needs_attention"):
        states[state] += 1
        flagged += attention
        moving += status != RunStatus.FINISHED and not attention
    restocks = ReturnRestock.objects.filter(line__ret__in=rows)
    figures = ReturnFigures(
        requested=len(returns.requested),
        completed=states["completed"],
        cancelled=states["cancelled"],
        needs_attention=flagged,
        in_flight=moving,
        lost=len(returns.requested) - sum(states.values()),
        lines_rejected=rows.filter(lines__verdict="rejected").count(),
        refunded=str(rows.aggregate(total=Sum("refund__amount"))["total"] or 0),
        units_restocked=restocks.aggregate(units=Sum("quantity"))["units"] or 0,
        attempts=dict(
            Counter(
                StepAttempt.objects.filter(process_id__in=rows.values("pk")).values_list("outcome", flat=True)
            )
        ),
    )
    figures.stock_not_counted_once = stock_not_counted_once(warehouse, on_hand_before, restocks)
    return figures


def stock_not_counted_once(warehouse: Warehouse, before: dict[int, int], restocks) -> list[str]:
    """The soak's stock rows whose units on hand moved by anything but the returns' restocks:
    shipping keeps an order's units reserved, so only a restock adds to on hand, once."""
    back = dict(restocks.values("stock").annotate(units=Sum("quantity")).values_list("stock", "units"))
    now = stock_on_hand(warehouse)
    return sorted(str(pk) for pk, units in now.items() if units != before.get(pk, 0) + back.get(pk, 0))
