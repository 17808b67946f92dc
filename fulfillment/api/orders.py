"""What a client does to its orders: place one exactly once per idempotency key, change its
address once per key, cancel one."""

import time

from django.db import transaction

from fulfillment.address_change import order_address_change
from fulfillment.api import conf
from fulfillment.api.errors import OrderBusy, OrderNotCancellable
from fulfillment.api.idempotency import idempotency_claim, idempotency_complete
from fulfillment.models import Order, OrderState
from fulfillment.ordering import LineRequest, order_place
from processes import clock, leases
from processes.interventions import process_compensate
from processes.journal import Actor
from processes.models.journal import ActorType
from processes.models.process import Direction

# Why a client can no longer cancel an order at its state (Order.is_cancellable says whether);
# an operator can still compensate it.
NOT_CANCELLABLE = {
    OrderState.PICKED: "its items have been picked",
    OrderState.COMPLETED: "it is completed",
}


def client_actor(client) -> Actor:
    return Actor(ActorType.CLIENT, client.get_username())


def order_place_once(*, client, idempotency_key: str, fingerprint: str, data: dict) -> tuple[Order, bool]:
    """Place the order in `data` (validated OrderPlaceIn) unless this key already placed it.

    Returns (order, replayed). The key's record and the order commit in one transaction: a
    second request with the key waits on the first's row, then gets its order.
    """
    with transaction.atomic():
        record, fresh = idempotency_claim(client=client, key=idempotency_key, fingerprint=fingerprint)
        if not fresh:
            return record.order, True
        order = order_place(
            email=data["email"],
            shipping_address=data["shipping_address"],
            lines=[LineRequest(line["sku"], line["quantity"]) for line in data["lines"]],
            payment_token=data["payment_token"],
            actor=client_actor(client),
            owner=client,
        )
        idempotency_complete(record=record, order=order, status_code=201)
    return order, False


def order_address_change_once(
    *, client, order_id, idempotency_key: str, fingerprint: str, address: dict
) -> tuple[Order, bool]:
    """Change the client's order's shipping address unless this key already did. Returns
    (order, replayed); a refusal (AddressNotChangeable) leaves the key unused, like the order."""
    with transaction.atomic():
        Order.objects.only("pk").get(pk=order_id, owner=client)  # another client's: a 404
        record, fresh = idempotency_claim(client=client, key=idempotency_key, fingerprint=fingerprint)
        if not fresh:
            return record.order, True
        order = order_address_change(
            order_id=order_id, address=address, actor=client_actor(client), reason="changed by the client"
        )
        idempotency_complete(record=record, order=order, status_code=200)
    return order, False


def order_cancel_by_client(*, client, order_id, reason: str) -> Order:
    """Start undoing the client's order; harmless when it is already being cancelled.

    Refused (OrderNotCancellable) once picked. A step that is running right now holds the
    order for a moment: wait up to API['CANCEL_WAIT_SECONDS'], then raise OrderBusy.
    """
    deadline = time.monotonic() + conf.get("CANCEL_WAIT_SECONDS")
    while True:
        try:
            return _cancel(client=client, order_id=order_id, reason=reason)
        except OrderBusy:
            if time.monotonic() >= deadline:
                raise
            time.sleep(0.1)


def _cancel(*, client, order_id, reason: str) -> Order:
    with transaction.atomic():
        order = Order.objects.select_for_update().get(pk=order_id, owner=client)
        if order.direction == Direction.COMPENSATE:
            return order  # already being cancelled, or cancelled
        if not order.is_cancellable():
            why = NOT_CANCELLABLE.get(order.state, f"it is {order.get_state_display().lower()}")
            raise OrderNotCancellable(f"The order can no longer be cancelled: {why}.")
        if leases.held(order, clock.now()):
            raise OrderBusy(f"Step {order.step} of the order is running right now; try again in a moment.")
        return process_compensate(model=Order, process_id=order.pk, actor=client_actor(client), reason=reason)
