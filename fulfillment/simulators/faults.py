"""Faults injected into simulated calls: an outage, deterministic rules from the FaultRule table,
random ones from settings.

Every call goes through `fault_before_effect` and, once its effect is committed,
`fault_after_effect`. Both apply to replays too: a real service can fail on a retry as well.
The service counts every call and records every call it refuses (fulfillment.simulators.calls).
"""

import random
import time

from django.db import transaction
from django.db.models import Case, IntegerField, Value, When

from fulfillment.gateways import ServiceTimeout, ServiceUnavailable
from fulfillment.simulators.calls import Reason, call_record, refusal_record
from fulfillment.simulators.conf import simulator_setting
from fulfillment.simulators.models import SIMULATORS_DB, FaultRule, Operation, Service
from fulfillment.simulators.outages import outage_refuse

Mode = FaultRule.Mode
_rng = random.Random()


def chance(rate: float) -> bool:
    """True with probability `rate`; tests replace `_rng` to make it deterministic."""
    return rate > 0 and _rng.random() < rate


def fault_add(
    *, service: str, operation: str, mode: str, times: int = 1, reference: str = "", account: str = ""
) -> FaultRule:
    """Make the next `times` matching calls fail in `mode`; a misspelt name raises ValueError."""
    return FaultRule.objects.create(
        service=Service(service),
        operation=Operation(operation),
        mode=Mode(mode),
        remaining=times,
        reference=reference,
        account=account,
    )


def inject(service: str, operation: str, reference: str = "", account: str = "") -> str | None:
    """Consume one use of the best matching rule and return its mode, or None if none matches.

    The rule is locked while it is decremented, so concurrent calls never share one use. A call
    that no rule matches, nearly every call, looks once without a transaction or a lock: a rule
    added meanwhile applies from the next call on, as it would had this one come a moment earlier.
    """
    matching = FaultRule.objects.filter(
        service=service, operation=operation, remaining__gt=0, reference__in=[reference, ""]
    ).filter(account__in=[account, ""])
    if not matching.exists():
        return None
    with transaction.atomic(using=SIMULATORS_DB):
        rule = matching.select_for_update().order_by(_specific_first(reference), "id").first()
        if rule is None:
            return None
        rule.remaining -= 1
        rule.save(update_fields=["remaining"])
        return rule.mode


def _specific_first(reference: str) -> Case:
    return Case(When(reference=reference, then=Value(0)), default=Value(1), output_field=IntegerField())


def fault_before_effect(
    service: str, operation: str, reference: str = "", key: str = "", account: str = ""
) -> str | None:
    """Log the call, refuse it during an outage, wait the configured latency, then raise a
    fault that happens before any effect; `key` is the call's idempotency key, for the records,
    and `account` the caller's account with the service, which a fault rule may single out.

    Returns the rule's mode otherwise, to be handed to `fault_after_effect`.
    """
    call_record(service=service, operation=operation, reference=reference, key=key, account=account)
    outage_refuse(service, operation, reference, key)
    latency_ms = simulator_setting("LATENCY_MS")
    if latency_ms:
        time.sleep(latency_ms / 1000)
    mode = inject(service, operation, reference, account)
    refusal = _refusal(service, operation, mode)
    if refusal is None:
        return mode
    error, reason = refusal
    refusal_record(service=service, operation=operation, reference=reference, key=key, reason=reason)
    raise error


def _refusal(service: str, operation: str, mode: str | None) -> tuple[Exception, str] | None:
    """The fault that strikes before any effect, if any, and the reason the service records."""
    call = f"{service}.{operation}"
    if mode == Mode.UNAVAILABLE:
        return ServiceUnavailable(f"{call}: unavailable (fault rule)"), Reason.FAULT_RULE
    if mode == Mode.TIMEOUT_BEFORE_EFFECT:
        return ServiceTimeout(f"{call}: timed out before any effect (fault rule)"), Reason.TIMEOUT
    if chance(simulator_setting("TRANSIENT_ERROR_RATE")):
        return ServiceUnavailable(f"{call}: unavailable (random)"), Reason.RANDOM
    if chance(simulator_setting("DEGRADED").get(service, 0.0)):
        return ServiceUnavailable(f"{call}: unavailable (degraded)"), Reason.DEGRADED
    return None


def fault_after_effect(service: str, operation: str, mode: str | None) -> None:
    """Raise a timeout although the effect is committed: the caller cannot tell what happened."""
    if mode == Mode.TIMEOUT_AFTER_EFFECT:
        raise ServiceTimeout(f"{service}.{operation}: timed out after the effect (fault rule)")
    if chance(simulator_setting("AMBIGUOUS_TIMEOUT_RATE")):
        raise ServiceTimeout(f"{service}.{operation}: timed out after the effect (random)")
