"""Events from the payment provider: check the signature, then hand the event to its order.

The signature is Stripe's scheme: `X-Signature: t=<unix time>,v1=<hex>` where the hex is the
HMAC-SHA256, keyed with PAYMENT_WEBHOOK_SECRET, of `<t>.<raw body>`. A missing, wrong or
stale (more than API['WEBHOOK_TOLERANCE'] seconds off) signature changes nothing, and so does a
header outside the bounds below (too long, too many parts, a timestamp of more than 12 digits,
a v1 that is not hex): each is a 400, parsed without any arithmetic on its size. A good
event is delivered to the order's process through the engine's inbox, which keeps it,
journals it and ignores a second delivery of the same event id; the order workflow's
`on_message` hook (fulfillment.payment_events) decides what it does to the order.
"""

import hashlib
import hmac
import re
import uuid

from django.db import models

from fulfillment.api import conf
from fulfillment.api.errors import InvalidSignature
from fulfillment.models import Order
from processes.inbox import process_message_deliver
from processes.journal import Actor
from processes.models.journal import ActorType

SENDER = Actor(ActorType.SYSTEM, "payment-webhook")
# Bounds of the X-Signature header: a handful of signatures while a secret is rotated, a Unix
# time in seconds (12 digits reach the year 33658), a SHA-256 in hex (64 digits; up to 128 accepted).
MAX_HEADER_LENGTH = 1024
MAX_SIGNATURES = 8
TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"[0-9a-fA-F]{1,128}")
MALFORMED = "X-Signature must look like t=<unix time>,v1=<hex HMAC-SHA256>."


class Delivery(models.TextChoices):
    DELIVERED = "delivered", "Delivered to its order"
    DUPLICATE = "duplicate", "Seen before: nothing changed"
    IGNORED = "ignored", "Not about an order of ours"


def signature_make(*, body: bytes, secret: str, timestamp: int) -> str:
    """The X-Signature header value for `body` at `timestamp` (for senders and tests)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_verify(
    *,
    header: str,
    body: bytes,
    now: float,
    secret: str | None = None,
    setting: str = "PAYMENT_WEBHOOK_SECRET",
) -> None:
    """Raise InvalidSignature unless `header` signs `body` with the sender's secret (the payment
    provider's unless given, from `setting`), recently enough."""
    secret = conf.webhook_secret() if secret is None else secret
    tolerance = conf.get("WEBHOOK_TOLERANCE")
    if not secret:
        raise InvalidSignature(f"These webhooks are not configured here ({setting} is unset).")
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
    """The timestamp and v1 signatures of a header, or InvalidSignature when it is out of bounds.

    Other schemes' parts (v0=...) are skipped, as Stripe's are. A v1 that is not hex could
    never match (and compare_digest refuses non-ASCII text): it is refused, not compared.
    """
    if len(header) > MAX_HEADER_LENGTH:
        raise InvalidSignature(f"X-Signature is longer than {MAX_HEADER_LENGTH} characters.")
    timestamp, signatures = None, []
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        if name == "t" and timestamp is None and TIMESTAMP.fullmatch(value):
            timestamp = int(value)
        elif name == "t" or (name == "v1" and not SIGNATURE.fullmatch(value)):
            raise InvalidSignature(MALFORMED)
        elif name == "v1":
            signatures.append(value.lower())
    if len(signatures) > MAX_SIGNATURES:
        raise InvalidSignature(f"X-Signature carries more than {MAX_SIGNATURES} v1 signatures.")
    if timestamp is None or not signatures:
        raise InvalidSignature(MALFORMED)
    return timestamp, signatures


def _order_id(event: dict) -> uuid.UUID | None:
    reference = event["data"]["object"].get("reference")
    try:
        return uuid.UUID(reference) if reference else None
    except ValueError:
        return None
