"""Request and cancel a return: check it completely under the order's lock, then start it.

The order's row lock serialises the returns of one order, so two requests racing for the same
units cannot together return more than was shipped.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Sum

from fulfillment.errors import InvalidReturn, ReturnNotAllowed
from fulfillment.models import Order, OrderState, Return, ReturnLine, ReturnState
from processes import clock
from processes.control import process_start
from processes.interventions import process_compensate
from processes.journal import Actor


@dataclass(frozen=True)
class ReturnLineRequest:
    """Units of one of the order's lines to send back, by the line's id."""

    order_line_id: int
    quantity: int


def return_request(*, order: Order, lines: Iterable[ReturnLineRequest], reason: str, actor: Actor) -> Return:
    """Create the return and make its first step due, or raise InvalidReturn (the request is
    wrong) or ReturnNotAllowed (the order refuses it now); either way nothing is created."""
    lines = list(lines)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidReturn("Say why the items are returned (reason).")
    if not lines:
        raise InvalidReturn("A return needs at least one line.")
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order.pk)
        _check_order_returnable(order)
        order_lines = {line.pk: line for line in order.lines.all()}
        left = units_not_returned(order)
        seen: set[int] = set()
        for line in lines:
            _check_line(line, order_lines, left, seen)
        amount = sum(
            (order_lines[line.order_line_id].unit_price * line.quantity for line in lines), Decimal("0")
        )
        ret = Return(order=order, reason=reason[:500], amount=amount)
        process_start(process=ret, actor=actor, reason="return requested", rollout_key=order.email)
        ReturnLine.objects.bulk_create(
            ReturnLine(ret=ret, order_line=order_lines[line.order_line_id], quantity=line.quantity)
            for line in lines
        )
    return ret


def units_not_returned(order: Order) -> dict[int, int]:
    """Units of each order line shipped and not in any return that is not cancelled."""
    taken = (
        ReturnLine.objects.filter(order_line__order=order)
        .exclude(ret__state=ReturnState.CANCELLED)
        .values("order_line")
        .annotate(units=Sum("quantity"))
    )
    returned = {row["order_line"]: row["units"] for row in taken}
    return {line.pk: line.quantity - returned.get(line.pk, 0) for line in order.lines.all()}


def return_window_closes_at(order: Order):
    """When the order stops being returnable: RETURN_WINDOW_DAYS after it was completed."""
    return order.state_changed_at + timedelta(days=settings.RETURN_WINDOW_DAYS)


def return_cancel(*, ret: Return, actor: Actor, reason: str) -> Return:
    """Cancel a return before its parcel arrived: its label is voided and the customer told;
    ReturnNotAllowed once the parcel is at the warehouse (or the return has ended)."""
    with transaction.atomic():
        ret = Return.objects.select_for_update().get(pk=ret.pk)
        if not ret.is_cancellable() or ret.direction != "forward":
            raise ReturnNotAllowed(
                f"Return {ret.pk} is {ret.get_state_display().lower()}: it can no longer be cancelled."
            )
        return process_compensate(model=Return, process_id=ret.pk, actor=actor, reason=f"cancelled: {reason}")


def _check_order_returnable(order: Order) -> None:
    if order.state != OrderState.COMPLETED:
        raise ReturnNotAllowed(
            f"Order {order.pk} is {order.get_state_display().lower()}: "
            "only a completed order can be returned."
        )
    closes = return_window_closes_at(order)
    if clock.now() > closes:
        raise ReturnNotAllowed(
            f"Order {order.pk} could be returned until {closes:%Y-%m-%d %H:%M} UTC "
            f"({settings.RETURN_WINDOW_DAYS} days after it was completed)."
        )


def _check_line(line: ReturnLineRequest, order_lines: dict, left: dict[int, int], seen: set[int]) -> None:
    line_id, quantity = line.order_line_id, line.quantity
    if isinstance(line_id, bool) or not isinstance(line_id, int) or line_id not in order_lines:
        raise InvalidReturn(f"Line {line_id!r} is not a line of this order.")
    if line_id in seen:
        raise InvalidReturn(f"Line {line_id} is listed twice; list each line once with its quantity.")
    seen.add(line_id)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise InvalidReturn(f"Quantity of line {line_id} must be a whole number of at least 1.")
    if quantity > left[line_id]:
        sku, shipped = order_lines[line_id].sku, order_lines[line_id].quantity
        raise InvalidReturn(
            f"Line {line_id} ({sku}): {quantity} to return, but only {left[line_id]} of the {shipped} "
            "shipped are not already returned."
        )
