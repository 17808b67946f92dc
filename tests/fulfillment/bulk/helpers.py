"""Orders at rest in the states a bulk operation meets, and the ledgers it must leave right."""

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

from fulfillment.bulk_actions import LABEL
from fulfillment.models import Order
from fulfillment.order_selection import orders_for_preview
from fulfillment.simulators.carrier import labels_bulk
from fulfillment.simulators.payment import ledger_bulk
from processes import clock
from processes.bulk import bulk_run, bulk_start
from processes.journal import Actor
from processes.models.bulk import BulkOperation
from processes.models.journal import ActorType
from tests.factories import drive, place_order

OLGA = Actor(ActorType.OPERATOR, "olga")


def orders_waiting_for_pick(count: int, **kwargs) -> list[Order]:
    """Charged, reserved and labelled orders whose pick task is open (until a driver picks)."""
    with clock.frozen():
        return [drive(place_order(**kwargs), pick=False) for _ in range(count)]


def completed_orders(count: int) -> list[Order]:
    with clock.frozen():
        return [drive(place_order()) for _ in range(count)]


def run_to_rest(orders) -> list[Order]:
    with clock.frozen():
        return [drive(order, pick=False) for order in orders]


def ledgers(orders) -> dict:
    """What the simulated services hold for the orders: money charged and refunded, labels."""
    refs = [str(o.pk) for o in orders]
    money, held = ledger_bulk(refs), labels_bulk(refs)
    return {
        "charged": sum((m["charged"] for m in money.values()), Decimal(0)),
        "refunded": sum((m["refunded"] for m in money.values()), Decimal(0)),
        "live labels": sum(h["live"] for h in held.values()),
        "voided labels": sum(h["voided"] for h in held.values()),
    }


def reserved_units(catalogue) -> Counter:
    return Counter({p.sku: catalogue.stock(p).reserved for p in (catalogue.mug, catalogue.tee)})


def preview_orders(orders):
    return orders_for_preview([o.pk for o in orders])


def three_operations(start: datetime) -> dict[str, BulkOperation]:
    """Three operations an hour apart: a compensate that finished, a cancel whose order was
    refused, and a retry still running with a failure; and one over another workflow."""
    waiting, done = orders_waiting_for_pick(2), completed_orders(1)
    with clock.frozen(start):
        flood = bulk_start(
            label=LABEL,
            action="compensate",
            process_ids=[o.pk for o in waiting],
            actor=OLGA,
            reason="the flood reached the pick aisles",
            selection="step: pick",
        )
        bulk_run(flood.pk)
    with clock.frozen(start + timedelta(hours=1)):
        late = bulk_start(
            label=LABEL,
            action="cancel",
            process_ids=[done[0].pk],
            actor=Actor(ActorType.OPERATOR, "sam"),
            reason="customer asked by phone",
            selection="state: completed",
        )
        bulk_run(late.pk)
    with clock.frozen(start + timedelta(hours=2)):
        stuck = BulkOperation.objects.create(
            process_type=LABEL,
            action="retry",
            reason="carrier back",
            requested_by="rita",
            total=3,
            done=1,
            failed=1,
        )
        BulkOperation.objects.create(
            process_type="fulfillment.return", action="retry", reason="x", requested_by="x"
        )
    return {"flood": flood, "late": late, "stuck": stuck}
