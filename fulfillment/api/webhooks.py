"""Events from the payment provider: check the signature, then hand the event to its order.

The signature is Stripe's scheme: `X-Signature: t=<unix time>,v1=<hex>` where the hex is the
HMAC-SHA256, keyed with PAYMENT_WEBHOOK_SECRET, of `<t>.<raw body>`. A missing, wrong or
stale (more than API['WEBHOOK_TOLERANCE'] seconds off) signature changes nothing. A good
event is delivered to the order's process through the engine's inbox, which keeps it,
journals it and ignores a second delivery of the same event id; the order workflow's
`on_message` hook (fulfillment.payment_events) decides what it does to the order.
"""

import hashlib
import hmac
import uuid

from django.db import models

from fulfillment.api import conf
from fulfillment.api.errors import InvalidSignature
from fulfillment.models import Order
from processes.inbox import process_message_deliver
from processes.journal import Actor
from processes.models import ActorType

SENDER = Actor(ActorType.SYSTEM, "payment-webhook")


class Delivery(models.TextChoices):
    DELIVERED = "delivered", "Delivered to its order"
    DUPLICATE = "duplicate", "Seen before: nothing changed"
    IGNORED = "ignored", "Not about an order of ours"


def signature_make(*, body: bytes, secret: str, timestamp: int) -> str:
    """The X-Signature header value for `body` at `timestamp` (for senders and tests)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_verify(*, header: str, body: bytes, now: float) -> None:
    """Raise InvalidSignature unless `header` signs `body` with our secret, recently enough."""
    secret, tolerance = conf.webhook_secret(), conf.get("WEBHOOK_TOLERANCE")
    if not secret:
        raise InvalidSignature("Payment webhooks are not configured here (PAYMENT_WEBHOOK_SECRET is unset).")
    timestamp, signatures = _parse(header)
    if abs(now - timestamp) > tolerance:
        raise InvalidSignature(f"The signature's timestamp is more than {tolerance} seconds off.")
    expected = signature_make(body=body, secret=secret, timestamp=timestamp).partition(",v1=")[2]
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise InvalidSignature("The signature does not match the body.")


def payment_event_receive(*, event: dict) -> str:
    """Deliver a verified event (validated PaymentEventIn) to its order; returns a Delivery."""
    order_id = _order_id(event)
    if order_id is None:
        return Delivery.IGNORED
    try:
        _, created = process_message_deliver(
            model=Order,
            process_id=order_id,
            name=event["type"],
            dedup_key=f"payment:{event['id']}",
            payload=event,
            actor=SENDER,
            reason=f"payment provider event {event['id']}",
        )
    except Order.DoesNotExist:
        return Delivery.IGNORED
    return Delivery.DELIVERED if created else Delivery.DUPLICATE


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp, signatures = None, []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and value.isascii() and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise InvalidSignature("X-Signature must look like t=<unix time>,v1=<hex HMAC-SHA256>.")
    return timestamp, signatures


def _order_id(event: dict) -> uuid.UUID | None:
    reference = event["data"]["object"].get("reference")
    try:
        return uuid.UUID(reference) if reference else None
    except ValueError:
        return None
