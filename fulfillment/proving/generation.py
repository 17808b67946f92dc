"""Fill the database with many orders quickly, to measure the engine and its pages at scale.

Orders are written with COPY on PostgreSQL (bulk inserts elsewhere), with one line each and the
journal rows that state needs (the creation and the latest transition), in every state: mostly
completed, some cancelled, some in each step, a few hundred flagged. They are laid out as a
live table would be: oldest first over 90 days, the finished ones before the ones still in
flight, which were placed in the last hour (an order does not sit at a step for weeks unless it
is flagged); so the pages' queries meet the orders in flight where a real table keeps them,
in its newest pages. Each belongs to one of a hundred generated API clients. They exist only
in our tables: the simulators' ledgers know nothing of them, so `check_invariants` flags them;
they carry the email domain `generated.example` to be told apart.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction

from fulfillment.models import Order, OrderLine, OrderState, Product, Warehouse
from fulfillment.proving.demo import demo_data_load
from processes import clock
from processes.models.journal import ActorType, EventKind, ProcessEvent
from processes.models.process import RunStatus

S = OrderState
# (state, share, run_status, step): where generated orders stand. An automatic step takes
# seconds, so few orders sit at one at any moment; and in a snapshot nobody moves them on, so
# minutes later each counts as stuck: 100 per million per step keeps "a few hundred stuck".
MIX = [
    (S.COMPLETED, 0.9196, RunStatus.FINISHED, ""),
    (S.CANCELLED, 0.06, RunStatus.FINISHED, ""),
    (S.AWAITING_PICK, 0.02, RunStatus.WAITING, "pick"),
    (S.RECEIVED, 0.0001, RunStatus.READY, "charge_payment"),
    (S.PAYMENT_CHARGED, 0.0001, RunStatus.READY, "reserve_inventory"),
    (S.INVENTORY_RESERVED, 0.0001, RunStatus.READY, "create_label"),
    (S.PICKED, 0.0001, RunStatus.READY, "send_confirmation"),
]
FINISHED = [entry for entry in MIX if entry[2] == RunStatus.FINISHED]
IN_FLIGHT = [entry for entry in MIX if entry[2] != RunStatus.FINISHED]
STUCK = 300  # the oldest orders, flagged needs-attention at the confirmation step
HISTORY = timedelta(days=90)
IN_FLIGHT_WINDOW = timedelta(hours=1)
CLIENTS = 100
ADDRESS = {
    "name": "Generated",
    "line1": "1 Scale Road",
    "line2": "",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


@dataclass
class Generated:
    orders: int
    lines: int
    events: int


def orders_generate(*, count: int, seed: int = 0, batch: int = 50_000) -> Generated:
    """Write `count` orders in batches, each batch in its own transaction."""
    demo_data_load()
    layout = _Layout(
        rng=random.Random(seed),
        start=clock.now(),
        count=count,
        finished=count - round(count * sum(share for _, share, _, _ in IN_FLIGHT)),
        warehouse=Warehouse.objects.order_by("pk").first(),
        products=list(Product.objects.order_by("pk")),
        clients=_clients(),
    )
    written = Generated(0, 0, 0)
    for first in range(0, count, batch):
        orders, lines, events = _batch(layout, range(first, min(first + batch, count)))
        with transaction.atomic():
            rows_write(Order, orders)
            rows_write(OrderLine, lines)
            rows_write(ProcessEvent, events)
        written = Generated(
            written.orders + len(orders), written.lines + len(lines), written.events + len(events)
        )
    return written


@dataclass
class _Layout:
    """Where and when the orders of one run stand: the finished first, then those in flight."""

    rng: random.Random
    start: datetime
    count: int
    finished: int  # orders [0, finished) are finished (or flagged), the rest in flight
    warehouse: Warehouse
    products: list[Product]
    clients: list[int]

    def placed_at(self, index: int) -> datetime:
        """Oldest first: the finished over the 90 days before the last hour, the rest in it."""
        if index < self.finished:
            return self.start - HISTORY + (HISTORY - IN_FLIGHT_WINDOW) * (index / self.finished)
        return self.start - IN_FLIGHT_WINDOW * (1 - (index - self.finished) / (self.count - self.finished))

    def place_in_mix(self, index: int):
        if index < STUCK:
            return S.PICKED, RunStatus.READY, "send_confirmation"
        entries = FINISHED if index < self.finished else IN_FLIGHT
        (state, _, run_status, step) = self.rng.choices(entries, weights=[e[1] for e in entries])[0]
        return state, run_status, step


def _clients() -> list[int]:
    """The generated API clients' user ids (they sign in with no password: none is usable)."""
    ids = []
    for number in range(CLIENTS):
        user, created = get_user_model().objects.get_or_create(
            username=f"generated-client-{number:03}", defaults={"email": f"client{number}@generated.example"}
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        ids.append(user.pk)
    return ids


def _batch(layout: _Layout, indexes: range):
    orders, lines, events = [], [], []
    for index in indexes:
        order = _order(layout, index)
        orders.append(order)
        product = layout.products[index % len(layout.products)]
        lines.append(
            {
                "order_id": order["id"],
                "product_id": product.pk,
                "sku": product.sku,
                "quantity": 1 + index % 3,
                "unit_price": product.price,
            }
        )
        events.extend(_journal(order))
    return orders, lines, events


def _order(layout: _Layout, index: int) -> dict:
    state, run_status, step = layout.place_in_mix(index)
    product = layout.products[index % len(layout.products)]
    created = layout.placed_at(index)
    # A finished order moved last a few minutes after it was placed; one in flight entered its
    # step when it was placed (at most an hour ago).
    stuck = index < STUCK
    finished = run_status == RunStatus.FINISHED
    moved = created + timedelta(minutes=5) if finished or stuck else created
    return {
        "id": uuid.UUID(int=layout.rng.getrandbits(128), version=4),
        "state": state,
        "run_status": run_status,
        "step": step,
        "created_at": created,
        "updated_at": moved,
        "state_changed_at": moved,
        "step_started_at": moved if step else None,
        "next_run_at": None if stuck or finished else layout.start + timedelta(hours=1),
        "deadline_at": layout.start + timedelta(hours=1) if run_status == RunStatus.WAITING else None,
        "needs_attention": stuck,
        "attention_reason": "send_confirmation gave up after 8 attempts (generated)" if stuck else "",
        "attention_step": step if stuck else "",
        "owner_id": layout.clients[index % len(layout.clients)],
        "email": f"customer{index}@generated.example",
        "shipping_address": ADDRESS,
        "payment_token": "tok_ok",
        "warehouse_id": layout.warehouse.pk,
        "total": product.price * (1 + index % 3),
    }


def _journal(order) -> list[dict]:
    created = {
        "from_state": "",
        "to_state": S.RECEIVED,
        "transition": "create",
        "reason": "generated",
        "created_at": order["created_at"],
    }
    if order["state"] == S.RECEIVED:
        return [_event(order, created)]
    latest = {
        "from_state": "",
        "to_state": order["state"],
        "transition": "generated",
        "reason": "generated at scale",
        "created_at": order["state_changed_at"],
    }
    return [_event(order, created), _event(order, latest)]


def _event(order, fields) -> dict:
    return {
        "process_type": "fulfillment.order",
        "process_id": order["id"],
        "kind": EventKind.TRANSITION,
        "step": "",
        "actor_type": ActorType.SYSTEM,
        "actor": "generate_orders",
        **fields,
    }


def rows_write(model, rows: list[dict]) -> None:
    """COPY on PostgreSQL; bulk_create elsewhere. Missing columns take the field's default."""
    fields = [
        f
        for f in model._meta.concrete_fields
        if not (f.primary_key and f.get_internal_type() == "BigAutoField")
    ]
    if connection.vendor != "postgresql":
        model.objects.bulk_create(
            [model(**{f.attname: row.get(f.attname, f.get_default()) for f in fields}) for row in rows],
            batch_size=2000,
        )
        return
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    sql = f"COPY {model._meta.db_table} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row([_copy_value(f, row.get(f.attname, f.get_default())) for f in fields])


def _copy_value(field, value):
    if field.get_internal_type() == "JSONField":
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    return value
