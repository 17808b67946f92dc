"""Idempotency keys: the same request with the same key has its effect once, whatever the retries.

`idempotency_claim` runs inside the transaction that makes the effect, so the key and the
order (or return) commit together or not at all; the unique constraint on (client, key) makes a second
request with the key wait for the first and then find its record. A key lives at least
`API['IDEMPOTENCY_KEY_TTL']` seconds (24 hours by default); after that it may be used afresh.
"""

import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q

from fulfillment.api import conf
from fulfillment.api.errors import IdempotencyKeyReused
from fulfillment.api.models import IdempotencyRecord
from processes import clock


def request_fingerprint(data) -> str:
    """SHA-256 of the body as canonical JSON: key order and whitespace do not matter."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_lookup(*, client, key: str, fingerprint: str) -> IdempotencyRecord | None:
    """The committed, live record of this key, if any, without locking: the fast path of a replay."""
    made = Q(order__isnull=False) | Q(ret__isnull=False)
    record = IdempotencyRecord.objects.filter(made, client=client, key=key).first()
    if record is None or _expired(record):
        return None
    _check_same_request(record, fingerprint)
    return record


def idempotency_claim(*, client, key: str, fingerprint: str) -> tuple[IdempotencyRecord, bool]:
    """Take the key for this request; call inside the transaction that will make the effect.

    Returns (record, True) for a fresh key, which the caller completes with
    `idempotency_complete` before committing, or (earlier record, False), locked, for a
    retry. Raises IdempotencyKeyReused when the key came with another body.
    """
    record = _locked(client, key)
    if record is None:
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(client=client, key=key, fingerprint=fingerprint), True
        except IntegrityError:  # another request inserted the key and committed meanwhile
            record = _locked(client, key)
    if _expired(record) or (record.order_id is None and record.ret_id is None):
        record.fingerprint, record.order, record.ret, record.created_at = fingerprint, None, None, clock.now()
        record.save(update_fields=["fingerprint", "order", "ret", "created_at"])
        return record, True
    _check_same_request(record, fingerprint)
    return record, False


def idempotency_complete(*, record: IdempotencyRecord, order=None, ret=None, status_code: int) -> None:
    """Tie the key to what its request made: an order, or a return."""
    record.order, record.ret, record.status_code = order, ret, status_code
    record.save(update_fields=["order", "ret", "status_code"])


def idempotency_purge() -> int:
    """Delete the records past their time to live; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=_cutoff()).delete()
    return deleted


def _locked(client, key) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.select_for_update().filter(client=client, key=key).first()


def _check_same_request(record: IdempotencyRecord, fingerprint: str) -> None:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request body; use a new key for a new request."
        )


def _expired(record: IdempotencyRecord) -> bool:
    return record.created_at < _cutoff()


def _cutoff():
    return clock.now() - timedelta(seconds=conf.get("IDEMPOTENCY_KEY_TTL"))
