"""What each simulated service received: every call counted, every refusal recorded.

These are the remote side's figures, written through the simulators' connection, so a test can
say "the carrier received N calls during the outage" without trusting our own journal.
"""

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum

from fulfillment.simulators.models import SIMULATORS_DB, CallCount, RefusedCall
from processes import clock

Reason = RefusedCall.Reason


def call_count_add(service: str, operation: str) -> None:
    """Count one call; one UPDATE once the counter's row exists."""
    counter = CallCount.objects.filter(service=service, operation=operation)
    if counter.update(calls=F("calls") + 1):
        return
    try:
        with transaction.atomic(using=SIMULATORS_DB):
            CallCount.objects.create(service=service, operation=operation, calls=1)
    except IntegrityError:  # another call made the row first
        counter.update(calls=F("calls") + 1)


def refusal_record(*, service: str, operation: str, reference: str, key: str, reason: str) -> RefusedCall:
    """Note a call turned away before any effect, at the engine's clock."""
    return RefusedCall.objects.create(
        service=service,
        operation=operation,
        reference=reference,
        idempotency_key=key,
        reason=Reason(reason),
        at=clock.now(),
    )


def calls_received(service: str) -> int:
    """Every call the service has received, refused ones included."""
    total = CallCount.objects.filter(service=service).aggregate(total=Sum("calls"))["total"]
    return total or 0


def calls_refused(
    service: str,
    *,
    reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, int]:
    """Refused calls per operation, optionally of one reason and within [since, until]."""
    refused = RefusedCall.objects.filter(service=service)
    if reason is not None:
        refused = refused.filter(reason=Reason(reason))
    if since is not None:
        refused = refused.filter(at__gte=since)
    if until is not None:
        refused = refused.filter(at__lte=until)
    rows = refused.values("operation").annotate(n=Count("id")).order_by("operation")
    return {row["operation"]: row["n"] for row in rows}
