"""The engine's one clock, which tests can freeze and move instead of sleeping.

Every time the engine reads goes through `now()`. A frozen clock only affects the current
process: tests that run real workers use the real clock.
"""

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from django.utils import timezone

_frozen_at: datetime | None = None


def now() -> datetime:
    return _frozen_at if _frozen_at is not None else timezone.now()


@contextmanager
def frozen(at: datetime | None = None):
    """Stop time at `at` (default: the real now) for the block; `advance()` moves it."""
    global _frozen_at
    previous = _frozen_at
    _frozen_at = at or timezone.now()
    try:
        yield
    finally:
        _frozen_at = previous


def advance(delta: timedelta | float) -> datetime:
    """Move a frozen clock forward by a timedelta or a number of seconds."""
    global _frozen_at
    if _frozen_at is None:
        raise RuntimeError("advance() needs a frozen clock: use `with clock.frozen():` first.")
    if not isinstance(delta, timedelta):
        delta = timedelta(seconds=delta)
    _frozen_at += delta
    return _frozen_at


def from_timestamp(seconds: float) -> datetime:
    """An aware UTC datetime from epoch seconds (the times kept in JSON, as in a limit's log)."""
    return datetime.fromtimestamp(seconds, tz=UTC)


def written(moment: datetime) -> str:
    """A time as the journal and the console write it: "2026-12-06 10:00:12 UTC" (logs and the
    API keep ISO 8601)."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
