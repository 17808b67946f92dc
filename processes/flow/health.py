"""The health of a step's service, read from the step's latest finished attempts."""

from datetime import datetime, timedelta

from processes.models import AttemptOutcome, StepAttempt
from processes.workflow import CircuitPolicy


def window(
    label: str, step: str, policy: CircuitPolicy, now: datetime, *, since: datetime | None = None
) -> tuple[int, int, int]:
    """(service failures, finished attempts, processes that failed) among the step's latest
    attempts in the window; none from before `since` (when the circuit last closed: the
    failures of an outage that is over must not re-open it)."""
    start = now - timedelta(seconds=policy.window_seconds)
    latest = (
        StepAttempt.objects.filter(
            step=step,
            process_type=label,
            started_at__gte=max(start, since) if since else start,
            outcome__in=[AttemptOutcome.SUCCEEDED, AttemptOutcome.FAILED],
        )
        .order_by("-started_at")
        .values_list("service_failed", "process_id")[: policy.window_attempts]
    )
    outcomes = list(latest)
    failing = {process for failed, process in outcomes if failed}
    return sum(failed for failed, _ in outcomes), len(outcomes), len(failing)
