"""Which orders a filter of the order list selects: one function for the console's list, its
bulk operations and `manage.py bulk_orders`.

The order list's filters and search put their values in the list's address (`state__exact`,
`step`, `stuck`, `needs_attention__exact`, `warehouse__id__exact`, `created_at__gte`,
`created_at__lt`, `q`); `selection_from_params` reads those, `OrderSelection.queryset` applies
them with the list's own conditions (fulfillment.monitoring), so "act on all N matching" acts on
the orders the operator was looking at. A value no filter offers is refused with what is wrong.
"""

from dataclasses import dataclass, fields
from datetime import datetime, time

from django.db.models import Prefetch, Q, QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from fulfillment.models import Order, OrderState, Reservation
from fulfillment.monitoring import order_search_q, step_choices, stuck_q
from processes import clock

# The list's own parameters that change its page or order, not which orders it shows.
LIST_ONLY = {"o", "p", "all", "e", "_changelist_filters"}
PARAMS = {
    "state__exact": "state",
    "step": "step",
    "stuck": "stuck",
    "needs_attention__exact": "needs_attention",
    "warehouse__id__exact": "warehouse",
    "created_at__gte": "created_after",
    "created_at__lt": "created_before",
    "q": "search",
}


class SelectionError(ValueError):
    """A filter value no filter offers: the message says which and what it takes."""


@dataclass(frozen=True)
class OrderSelection:
    """A filter of the order list, each field unset ('' or None) when it does not filter."""

    state: str = ""
    step: str = ""
    stuck: str = ""  # "yes": stuck; "attention": needs attention
    needs_attention: bool | None = None
    warehouse: int | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    search: str = ""

    def __post_init__(self):
        if self.state and self.state not in OrderState.values:
            raise SelectionError(f"No state {self.state!r}: the states are {', '.join(OrderState.values)}.")
        steps = [name for name, _ in step_choices()] + ["none"]
        if self.step and self.step not in steps:
            raise SelectionError(f"No step {self.step!r}: the steps are {', '.join(steps)}.")
        if self.stuck not in ("", "yes", "attention"):
            raise SelectionError(f"stuck takes 'yes' or 'attention', not {self.stuck!r}.")

    def queryset(self, now: datetime | None = None) -> QuerySet:
        """The matching orders, as the order list shows them (without its paging)."""
        orders = Order.objects.all()
        for condition in self._conditions(now or clock.now()):
            orders = orders.filter(condition)
        return orders

    def _conditions(self, now: datetime) -> list[Q]:
        chosen = {
            "state": lambda v: Q(state=v),
            "step": lambda v: Q(step="" if v == "none" else v),
            "stuck": lambda v: stuck_q(now) if v == "yes" else Q(needs_attention=True),
            "needs_attention": lambda v: Q(needs_attention=v),
            "warehouse": lambda v: Q(warehouse_id=v),
            "created_after": lambda v: Q(created_at__gte=v),
            "created_before": lambda v: Q(created_at__lt=v),
            "search": order_search_q,
        }
        values = [(f.name, getattr(self, f.name)) for f in fields(self)]
        return [chosen[name](value) for name, value in values if value not in ("", None)]

    def words(self) -> str:
        """The filter in words, for the preview, the progress page and the log."""
        parts = [f"{f.name.replace('_', ' ')}: {getattr(self, f.name)}" for f in fields(self)]
        chosen = [
            p for p, f in zip(parts, fields(self), strict=True) if getattr(self, f.name) not in ("", None)
        ]
        return "; ".join(chosen) or "all orders"

    def as_params(self) -> dict:
        """The list's address parameters for this filter (the inverse of selection_from_params)."""
        names = {field: param for param, field in PARAMS.items()}
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value in ("", None):
                continue
            if isinstance(value, bool):
                value = "1" if value else "0"
            elif isinstance(value, datetime):
                value = value.isoformat()
            out[names[f.name]] = str(value)
        return out


def selection_from_params(params) -> OrderSelection:
    """The selection of the order list's address parameters (a QueryDict or a dict)."""
    unknown = sorted(set(params) - set(PARAMS) - LIST_ONLY)
    if unknown:
        raise SelectionError(f"Unknown filter {', '.join(unknown)}: the filters are {', '.join(PARAMS)}.")
    values = {PARAMS[key]: str(params.get(key, "")).strip() for key in PARAMS if key in params}
    return OrderSelection(**{name: _value(name, raw) for name, raw in values.items()})


def _value(name: str, raw: str):
    if name == "needs_attention":
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise SelectionError(f"needs attention takes 1 or 0 (yes or no), not {raw!r}.")
        return raw.lower() in ("1", "true", "yes")
    if name == "warehouse":
        if not raw.isdigit():
            raise SelectionError(f"warehouse takes a warehouse's number, not {raw!r}.")
        return int(raw)
    if name in ("created_after", "created_before"):
        return parse_moment(raw, name.replace("_", " "))
    return raw


def parse_moment(raw: str, what: str) -> datetime:
    """A date (midnight UTC) or a date and time with its zone (ISO 8601)."""
    try:
        moment = parse_datetime(raw)
        day = None if moment else parse_date(raw)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise SelectionError(
            f"{what} takes a date (2026-12-06) or a date and time with its zone, not {raw!r}."
        )
    if moment is None:
        return datetime.combine(day, time(0), tzinfo=clock.now().tzinfo)
    if moment.tzinfo is None:
        raise SelectionError(f"{what}: give the time's zone ({raw}+00:00 for UTC).")
    return moment


def orders_for_preview(ids) -> QuerySet:
    """The orders with what their steps' undo previews read, loaded in a few queries."""
    return (
        Order.objects.filter(pk__in=ids)
        .select_related("payment", "pick_task", "warehouse")
        .prefetch_related(
            "shipments", Prefetch("reservations", Reservation.objects.select_related("stock__product"))
        )
        .order_by("pk")
    )
