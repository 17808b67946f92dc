"""Atomic request counters in fixed windows, for the API's rate limits.

A count is one key per scope, client and window (`api_client:user:7:29104523`): the window's
number is the time divided by its length, so every process agrees on it without talking. A
request adds one and reads the sum in a single atomic step, so concurrent requests are never
under-counted (DRF's SimpleRateThrottle reads a list, appends and writes it back):

- in Redis (`API['THROTTLE_REDIS_URL']`, REDIS_URL by default): INCR and EXPIRE in one
  MULTI/EXEC pipeline; the key expires by itself after its window;
- otherwise in the database: one `INSERT … ON CONFLICT (key) DO UPDATE SET hits = hits + 1
  RETURNING hits` on the small `api_ratewindow` table (PostgreSQL and SQLite alike); windows
  that ended are deleted at most once a minute per process, through their index.

A Redis that does not answer within REDIS_TIMEOUT (a quarter second) is a limit that cannot
be counted: the request is let through (fail open), a warning is logged, and the miss is added
to `ThrottleUnavailable` in the database, which /metrics reads. For RETRY_REDIS_AFTER seconds
after a miss this process does not ask Redis again (nor logs), so a dead Redis costs each
request nothing and the log one line a second per process.
A database that does not answer is not caught here: the request fails as the rest of the API
does then (a JSON 503, see fulfillment.api.server_errors).
"""

import functools
import hashlib
import logging
import math
import time
from dataclasses import dataclass

from django.db import connection
from django.db.models import F

from fulfillment.api import conf
from fulfillment.api.models import RateWindow, ThrottleUnavailable
from processes import clock

logger = logging.getLogger("fulfillment.api.throttling")

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
REDIS_TIMEOUT = 0.25
RETRY_REDIS_AFTER = 1.0
PURGE_EVERY = 60.0
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Window:
    """The count of one key in the current window, and the seconds until the window ends."""

    hits: int
    resets_in: int


def rate_parse(rate: str) -> tuple[int, int]:
    """'120/min' -> (120, 60): requests allowed, and the window's length in seconds."""
    number, _, period = rate.partition("/")
    return int(number), PERIODS[period[0]]


def window_hit(*, scope: str, ident: str, period: int) -> Window | None:
    """Count one request of `ident` in the current window; None when the count is unavailable."""
    return _counted(scope, ident, period, add=True)


def window_peek(*, scope: str, ident: str, period: int) -> Window | None:
    """The current window's count without adding to it; None when the count is unavailable."""
    return _counted(scope, ident, period, add=False)


def _counted(scope: str, ident: str, period: int, *, add: bool) -> Window | None:
    now = clock.now().timestamp()
    number = int(now // period)
    key, ends_at = _key(scope, ident, number), (number + 1) * period
    url = conf.get("THROTTLE_REDIS_URL")
    if not url:
        return Window(database_windows.count(key, ends_at, add=add), math.ceil(ends_at - now))
    store = _redis_store(url)
    hits = store.count(key, math.ceil(ends_at - now) + 1, add=add)
    if hits is None:
        _unavailable(scope)
        return None
    return Window(hits, math.ceil(ends_at - now))


def _key(scope: str, ident: str, number: int) -> str:
    key = f"{scope}:{ident}:{number}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{scope}:sha256:{hashlib.sha256(key.encode()).hexdigest()}"


class DatabaseWindows:
    """Counts in the api_ratewindow table, one upsert per request; ended windows purged now and then."""

    def __init__(self):
        self.last_purge = -math.inf

    def count(self, key: str, ends_at: int, *, add: bool) -> int:
        if not add:
            return RateWindow.objects.filter(key=key).values_list("hits", flat=True).first() or 0
        table = connection.ops.quote_name(RateWindow._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f'INSERT INTO {table} ("key", "hits", "ends_at") VALUES (%s, 1, %s) '
                f'ON CONFLICT ("key") DO UPDATE SET "hits" = {table}."hits" + 1 RETURNING "hits"',
                [key, ends_at],
            )
            hits = cursor.fetchone()[0]
        self.purge_ended()
        return hits

    def purge_ended(self) -> None:
        """Delete the windows that ended, at most once every PURGE_EVERY seconds in this process."""
        if time.monotonic() - self.last_purge < PURGE_EVERY:
            return
        self.last_purge = time.monotonic()
        RateWindow.objects.filter(ends_at__lt=int(clock.now().timestamp())).delete()


database_windows = DatabaseWindows()


class RedisWindows:
    """Counts in one Redis server, with short timeouts and a pause after it failed to answer."""

    def __init__(self, url: str):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.errors = redis.RedisError
        self.client = redis.Redis.from_url(  # one try: a count not made in time is let through
            url,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self.quiet_until = 0.0

    def count(self, key: str, ttl: int, *, add: bool) -> int | None:
        if time.monotonic() < self.quiet_until:
            return None
        key = f"fulfillment:rate:{key}"
        try:
            if not add:
                return int(self.client.get(key) or 0)
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, ttl)
            return int(pipe.execute()[0])
        except self.errors as error:
            self.quiet_until = time.monotonic() + RETRY_REDIS_AFTER
            logger.warning(
                "Redis did not answer the rate limits (%s): requests go uncounted for %g s",
                error,
                RETRY_REDIS_AFTER,
            )
            return None


@functools.lru_cache(maxsize=4)
def _redis_store(url: str) -> RedisWindows:
    return RedisWindows(url)


def _unavailable(scope: str) -> None:
    """Count a check let pass because its limit could not be counted (logged once a second)."""
    row, created = ThrottleUnavailable.objects.get_or_create(
        scope=scope, defaults={"requests": 1, "last_at": clock.now()}
    )
    if not created:
        ThrottleUnavailable.objects.filter(pk=row.pk).update(requests=F("requests") + 1, last_at=clock.now())
