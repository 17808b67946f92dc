"""Fill the database with many orders quickly, to measure the engine and its pages at scale.

Orders are written with COPY on PostgreSQL (bulk inserts elsewhere), with one line each and the
journal rows that state needs (the creation and the latest transition), in every state: mostly
completed, some cancelled, some in each step, a few hundred flagged or overdue. They exist only
in our tables: the simulators' ledgers know nothing of them, so `check_invariants` flags them;
they carry the email domain `generated.example` to be told apart.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import connection, transaction

from fulfillment.demo import demo_data_load
from fulfillment.models import Order, OrderLine, OrderState, Product, Warehouse
from processes import clock
from processes.models import ActorType, EventKind, ProcessEvent, RunStatus

S = OrderState
# (state, share, run_status, step): where generated orders stand.
MIX = [
    (S.COMPLETED, 0.90, RunStatus.FINISHED, ""),
    (S.CANCELLED, 0.06, RunStatus.FINISHED, ""),
    (S.AWAITING_PICK, 0.02, RunStatus.WAITING, "pick"),
    (S.RECEIVED, 0.005, RunStatus.READY, "charge_payment"),
    (S.PAYMENT_CHARGED, 0.005, RunStatus.READY, "reserve_inventory"),
    (S.INVENTORY_RESERVED, 0.005, RunStatus.READY, "create_label"),
    (S.PICKED, 0.005, RunStatus.READY, "send_confirmation"),
]
STUCK = 300  # flagged needs-attention at the confirmation step
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
    rng = random.Random(seed)
    warehouse = Warehouse.objects.order_by("pk").first()
    products = list(Product.objects.order_by("pk"))
    written = Generated(0, 0, 0)
    for start in range(0, count, batch):
        size = min(batch, count - start)
        orders, lines, events = _batch(rng, size, start, count, warehouse, products)
        with transaction.atomic():
            _write(Order, orders)
            _write(OrderLine, lines)
            _write(ProcessEvent, events)
        written = Generated(written.orders + size, written.lines + len(lines), written.events + len(events))
    return written


def _batch(rng, size, start, count, warehouse, products):
    now = clock.now()
    orders, lines, events = [], [], []
    for index in range(start, start + size):
        state, run_status, step = _place_in_mix(rng, index, count)
        product = products[index % len(products)]
        quantity = 1 + index % 3
        created = now - timedelta(seconds=rng.randint(60, 90 * 86400))
        stuck = index < STUCK
        order = {
            "id": uuid.UUID(int=rng.getrandbits(128), version=4),
            "state": state,
            "run_status": run_status,
            "step": step,
            "created_at": created,
            "updated_at": created + timedelta(minutes=5),
            "state_changed_at": created + timedelta(minutes=5),
            "step_started_at": created + timedelta(minutes=5) if step else None,
            "next_run_at": None if stuck or run_status == RunStatus.FINISHED else now + timedelta(hours=1),
            "deadline_at": now + timedelta(hours=1) if run_status == RunStatus.WAITING else None,
            "needs_attention": stuck,
            "attention_reason": "send_confirmation gave up after 8 attempts (generated)" if stuck else "",
            "attention_step": step if stuck else "",
            "email": f"customer{index}@generated.example",
            "shipping_address": ADDRESS,
            "payment_token": "tok_ok",
            "warehouse_id": warehouse.pk,
            "total": product.price * quantity,
        }
        orders.append(order)
        lines.append(
            {
                "order_id": order["id"],
                "product_id": product.pk,
                "sku": product.sku,
                "quantity": quantity,
                "unit_price": product.price,
            }
        )
        events.extend(_journal(order))
    return orders, lines, events


def _place_in_mix(rng, index, count):
    if index < STUCK:
        return S.PICKED, RunStatus.READY, "send_confirmation"
    roll, total = rng.random(), 0.0
    for state, share, run_status, step in MIX:
        total += share
        if roll < total:
            return state, run_status, step
    return MIX[0][0], MIX[0][2], MIX[0][3]


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


def _write(model, rows: list[dict]) -> None:
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
