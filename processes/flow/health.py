"""The health of a step's service, read from the step's latest finished calls.

A call either got an answer or failed as a sick service fails (the step's `blame`). The share
of failed calls says how unwell the service is; the number of processes that saw a failure
says whether that share means anything: one process retrying five times against a service
that refuses only it is one sick process, never a sick service. Every decision, page
and metric about a step reads this one `Health`, so their figures agree.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connections, router

from processes.models.journal import AttemptOutcome, StepAttempt
from processes.policies import CircuitPolicy

# How long a worker trusts the health it read before reading it again (seconds): pacing asks
# on every call, and one query a second per step and worker is all it needs.
CACHE_SECONDS = 1.0
_cache: dict[tuple, tuple[datetime, datetime | None, "Health"]] = {}
_statements: dict[tuple[str, int], str] = {}  # the latest calls' statement, per database and limit


@dataclass(frozen=True)
class Health:
    """What a step's latest finished calls say about its service."""

    calls: int  # calls finished in the window
    failed_calls: int  # of those, service failures
    processes: int  # processes that made them
    failing: int  # of those, the ones that saw a call fail as a sick service fails
    window_seconds: float
    failed_in_a_row: int = 0  # the latest calls that all failed, newest first

    @property
    def failed_share(self) -> float:
        return self.failed_calls / self.calls if self.calls else 0.0

    @property
    def percent_failed(self) -> int:
        return round(100 * self.failed_share)

    def shows_outage(self, policy: CircuitPolicy) -> bool:
        """Evidence enough to stop the step, for at least the policy's `min_processes` processes:
        the latest `stop_run` calls failed in a row, or `stop_share` of at least `stop_calls` (a
        full window by default).

        Fewer calls are no evidence, even if every one of them failed: at 30 % random failures
        a step's first five calls all fail for about one cold start in 400 (0.3^5), and that
        opened a circuit on the soak's noise; ten in a row is 0.3^10, about one in 170,000. A
        share needs a full window for the same reason: 8 of 10 fail at that noise about once in
        600 windows (the soak's refunds, a step with little traffic, met it), 16 of 20 about
        once in 200,000."""
        in_a_row = self.failed_in_a_row >= policy.stop_run
        nearly_all = self.calls >= policy.stop_calls and self.failed_share >= policy.stop_share
        return self.failing >= policy.min_processes and (in_a_row or nearly_all)

    def all_failed(self, *, processes: int) -> bool:
        """Every call failed, for at least `processes` processes."""
        return self.calls > 0 and self.failed_calls == self.calls and self.failing >= processes

    def degraded(self, policy: CircuitPolicy) -> bool:
        """A share of failed calls worth saying so, for two processes or more, on enough calls."""
        enough = self.failing >= 2 and self.calls >= policy.min_calls
        return enough and self.failed_share >= policy.degraded_share

    def admitted_share(self, policy: CircuitPolicy) -> float:
        """The share of due calls that go at once (the SRE book's accept-ratio rule): 1 while
        the service is well; degraded, the policy's multiplier times the share of calls it
        answers, at most 1 and never below the policy's minimum."""
        if not self.degraded(policy):
            return 1.0
        answered = 1.0 - self.failed_share
        return max(policy.min_admitted, min(1.0, policy.multiplier * answered))

    def slowed(self, policy: CircuitPolicy) -> bool:
        return self.admitted_share(policy) < 1.0

    def summary(self, noun: str = "processes") -> str:
        """'7 of the last 22 calls failed, for 5 of 18 orders (window 60s)'."""
        return (
            f"{self.failed_calls} of the last {self.calls} calls failed, for {self.failing} of "
            f"{self.processes} {noun} (window {self.window_seconds:g}s)"
        )


def health(
    label: str, step: str, key: str, policy: CircuitPolicy, now: datetime, *, since: datetime | None = None
) -> Health:
    """The health of the step's service for one flow key, from the latest finished calls in
    the policy's window; none from before `since` (when its circuit last closed: the failures
    of an outage that is over must not stop it again)."""
    start = now - timedelta(seconds=policy.window_seconds)
    calls = _latest_calls(label, step, key, max(start, since) if since else start, policy.window_attempts)
    in_a_row = next((n for n, (_, failed) in enumerate(calls) if not failed), len(calls))
    return Health(
        calls=len(calls),
        failed_calls=sum(failed for _, failed in calls),
        processes=len({process for process, _ in calls}),
        failing=len({process for process, failed in calls if failed}),
        window_seconds=policy.window_seconds,
        failed_in_a_row=in_a_row,
    )


def _latest_calls(label: str, step: str, key: str, start: datetime, limit: int) -> list[tuple]:
    """(process id, service failed) of the step's latest finished calls of the key since
    `start`, newest first, at most `limit`: one statement written once per database and limit
    (a queryset built it anew at every read, four fifths of the read's CPU)."""
    using = router.db_for_read(StepAttempt)
    connection = connections[using]
    started = StepAttempt._meta.get_field("started_at").get_db_prep_value(start, connection)
    params = [step, label, key, started, AttemptOutcome.SUCCEEDED.value, AttemptOutcome.FAILED.value]
    with connection.cursor() as cursor:
        cursor.execute(_statement(using, int(limit)), params)
        return cursor.fetchall()


def _statement(using: str, limit: int) -> str:
    if (using, limit) not in _statements:
        quote = connections[using].ops.quote_name
        table = quote(StepAttempt._meta.db_table)

        def column(name: str) -> str:
            return f"{table}.{quote(StepAttempt._meta.get_field(name).column)}"

        equal = " AND ".join(f"{column(name)} = %s" for name in ("step", "process_type", "flow_key"))
        _statements[using, limit] = (
            f"SELECT {column('process_id')}, {column('service_failed')} FROM {table} "
            f"WHERE {equal} AND {column('started_at')} >= %s AND {column('outcome')} IN (%s, %s) "
            f"ORDER BY {column('started_at')} DESC, {column('id')} DESC LIMIT {limit}"
        )
    return _statements[using, limit]


def recent_health(
    label: str, step: str, key: str, policy: CircuitPolicy, now: datetime, *, since: datetime | None = None
) -> Health:
    """`health`, as read by this worker at most CACHE_SECONDS ago."""
    read_at, read_since, seen = _cache.get((label, step, key), (None, None, None))
    if seen and read_since == since and timedelta(0) <= now - read_at < timedelta(seconds=CACHE_SECONDS):
        return seen
    seen = health(label, step, key, policy, now, since=since)
    _cache[(label, step, key)] = (now, since, seen)
    return seen


def forget() -> None:
    """Drop what this worker remembers (tests that move the clock back, or start afresh)."""
    _cache.clear()
