"""Idempotency keys as Stripe honours them: the first answer under a key is stored and replayed.

The same key with a different request is refused with IdempotencyConflict rather than answered,
since it means the caller reused a key by mistake.
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from fulfillment.gateways import IdempotencyConflict
from fulfillment.simulators.models import SIMULATORS_DB, IdempotencyRecord

# A racing call loses on a unique constraint and retries; the second try finds the winner's
# record. A third is there for a random id that collided, which is all but impossible.
_ATTEMPTS = 3


@dataclass(frozen=True)
class Outcome:
    """What an effect answered: a response, or a refusal that is stored and replayed as one."""

    response: dict
    error: str = ""
    error_message: str = ""


def request_hash(operation: str, request: dict) -> str:
    payload = json.dumps({"operation": operation, **request}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def idempotent_call(
    *, service: str, operation: str, key: str, reference: str, request: dict, effect: Callable[[], Outcome]
) -> IdempotencyRecord:
    """Run `effect` once per key, in one simulators transaction with its record; replay it after.

    Two calls racing with one key both miss the record, both insert it, and the unique constraint
    makes the later one roll back its effect and retry, which then replays the winner's answer.
    """
    digest = request_hash(operation, request)
    for attempt in range(_ATTEMPTS):
        try:
            record = _apply_or_find(service, operation, key, reference, digest, effect)
            break
        except IntegrityError:
            if attempt == _ATTEMPTS - 1:
                raise
    if record.request_hash != digest:
        raise IdempotencyConflict(f"{service} key {key!r} was used before with a different request")
    return record


def stored_record(service: str, key: str) -> IdempotencyRecord | None:
    return IdempotencyRecord.objects.filter(service=service, key=key).first()


def _apply_or_find(service, operation, key, reference, digest, effect) -> IdempotencyRecord:
    with transaction.atomic(using=SIMULATORS_DB):
        record = stored_record(service, key)
        if record is not None:
            return record
        outcome = effect()
        return IdempotencyRecord.objects.create(
            service=service,
            key=key,
            operation=operation,
            request_hash=digest,
            reference=reference,
            response=outcome.response,
            error=outcome.error,
            error_message=outcome.error_message,
        )
