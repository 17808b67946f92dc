"""What a client does to the returns of its orders: request one exactly once per idempotency
key, cancel one. The checks on the request are the return's own (fulfillment.returns.requests)."""

from django.db import transaction

from fulfillment.api.idempotency import idempotency_claim, idempotency_complete
from fulfillment.api.orders import client_actor
from fulfillment.models import Order, Return
from fulfillment.returns.requests import ReturnLineRequest, return_cancel, return_request
from processes.models.process import Direction


def return_request_once(
    *, client, order_id, idempotency_key: str, fingerprint: str, data: dict
) -> tuple[Return, bool]:
    """Request the return in `data` (validated ReturnRequestIn) of the client's order, unless
    this key already did. Returns (return, replayed); a refusal commits nothing, the key included.
    """
    with transaction.atomic():
        order = Order.objects.get(pk=order_id, owner=client)
        record, fresh = idempotency_claim(client=client, key=idempotency_key, fingerprint=fingerprint)
        if not fresh:
            return record.ret, True
        ret = return_request(
            order=order,
            lines=[ReturnLineRequest(line["line"], line["quantity"]) for line in data["lines"]],
            reason=data["reason"],
            actor=client_actor(client),
        )
        idempotency_complete(record=record, ret=ret, status_code=201)
    return ret, False


def return_cancel_by_client(*, client, return_id, reason: str) -> Return:
    """Cancel the client's return before its parcel arrived; harmless when already closing."""
    ret = Return.objects.get(pk=return_id, order__owner=client)
    if ret.direction == Direction.COMPENSATE:
        return ret
    return return_cancel(ret=ret, actor=client_actor(client), reason=reason)
