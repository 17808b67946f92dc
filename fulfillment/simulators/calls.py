"""What each simulated service received: every call logged with its arrival, every refusal recorded.

These are the remote side's figures, written through the simulators' connection, so a test can
say "the carrier received N calls during the outage" without trusting our own journal.
"""

from collections import deque
from datetime import datetime, timedelta

from django.db.models import Count

from fulfillment.simulators.models import ReceivedCall, RefusedCall
from processes import clock

Reason = RefusedCall.Reason


def call_record(*, service: str, operation: str, reference: str, key: str, account: str = "") -> None:
    """Log one call as it arrives, at the engine's clock: one INSERT, no row shared by calls."""
    ReceivedCall.objects.create(
        service=service,
        operation=operation,
        account=account,
        reference=reference,
        idempotency_key=key,
        at=clock.now(),
    )


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
    return ReceivedCall.objects.filter(service=service).count()


def busiest_window(
    service: str,
    *,
    seconds: float = 1.0,
    operations: list[str] | None = None,
    account: str | None = None,
    since: datetime | None = None,
) -> tuple[int, datetime | None]:
    """The most calls the service received within any `seconds`, and when that window began:
    what a service's published rate limit is measured against."""
    calls = ReceivedCall.objects.filter(service=service)
    if operations is not None:
        calls = calls.filter(operation__in=operations)
    if account is not None:
        calls = calls.filter(account=account)
    if since is not None:
        calls = calls.filter(at__gte=since)
    span, window = timedelta(seconds=seconds), deque()
    most, began = 0, None
    for at in calls.order_by("at").values_list("at", flat=True).iterator():
        window.append(at)
        while at - window[0] >= span:
            window.popleft()
        if len(window) > most:
            most, began = len(window), window[0]
    return most, began


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
