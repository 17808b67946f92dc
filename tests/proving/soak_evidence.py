"""What a soak test prints after its run, for pytest to show when the test fails: how the
clusters lived (from their logs) and the journals of the slowest orders (read before the test
database is flushed), so that a failure explains itself: what died when, what the sweeper did,
where the slowest orders waited and why."""

from pathlib import Path

from django.db.models import Max

from fulfillment.models import Order
from processes.models.journal import ProcessEvent, StepAttempt

# The lines of a cluster's log that say how it lived: its supervisor's, its start and stop,
# workers reborn after a kill, the sweeper process's failures and restarts, and errors.
LIFECYCLE = (
    "[run_workers]",
    " starting.",
    " running.",
    " stopping.",
    "reincarnated",
    "sweeper process",
    "ERROR",
)


def cluster_lives(log_dir: Path) -> str:
    parts = []
    for log in sorted(log_dir.glob("cluster-*.log")):
        lines = log.read_text().splitlines()
        lived = [line for line in lines if any(marker in line for marker in LIFECYCLE)]
        parts.append(f"----- {log.name}: how it lived -----\n" + "\n".join(lived))
        parts.append(f"----- {log.name} (last lines) -----\n" + "\n".join(lines[-40:]))
    return "\n".join(parts)


def slowest_orders(count: int = 3) -> str:
    """The journals and attempts of the `count` orders that took longest to come to rest, their
    times in seconds since the first order was placed."""
    first = Order.objects.order_by("created_at").values_list("created_at", flat=True).first()
    if first is None:
        return "no orders"
    last = ProcessEvent.objects.values("process_id").annotate(last=Max("created_at"))
    ends = dict(last.values_list("process_id", "last"))
    took = {pk: ends.get(pk, placed) - placed for pk, placed in Order.objects.values_list("pk", "created_at")}
    parts = []
    for pk in sorted(took, key=took.get, reverse=True)[:count]:
        parts.append(f"----- order {pk}: {took[pk].total_seconds():.1f}s to rest -----")
        parts.extend(_timeline(pk, first))
    return "\n".join(parts)


def _timeline(pk, first) -> list[str]:
    def at(moment) -> str:
        return f"{(moment - first).total_seconds():7.1f}s" if moment else "      -"

    rows = [
        (event.created_at, f"{at(event.created_at)} {event.kind} {event.step}: {event.reason}")
        for event in ProcessEvent.objects.filter(process_id=pk)
    ]
    rows += [
        (
            attempt.started_at,
            f"{at(attempt.started_at)} attempt {attempt.step} #{attempt.attempt} {attempt.direction} "
            f"by {attempt.worker}: {attempt.outcome} at {at(attempt.finished_at).strip()} "
            f"{attempt.error_class}",
        )
        for attempt in StepAttempt.objects.filter(process_id=pk)
    ]
    return [line for _, line in sorted(rows, key=lambda row: row[0])]
