"""Where the state of published service limits lives, shared by every worker and machine.

`DatabaseStore` (the default): one `ServiceLimiter` row per service and flow key, read and
written under its row lock inside the caller's transaction (the claim's), so a rolled-back claim
takes nothing. `RedisStore` (LIMITS_REDIS_URL): one key per service and flow key, read and
written in an optimistic transaction (WATCH, MULTI, EXEC; retried when another worker wrote it
meanwhile); no row lock in our database, for limits of hundreds of calls a second. Its writes
do not roll back with the claim: a claim that fails after admitting its call has used a place
of the rate (the limit errs on the safe side) and holds a place of the concurrency until its
lease would have ended.
"""

import json
from collections.abc import Callable
from functools import cache

from processes import clock, conf
from processes.flow.limit_state import LimiterState
from processes.models.flow import ServiceLimiter, lock_or_create

# Redis: how long a limit's state outlives its last call (seconds), and how often one update
# tries again when other workers keep writing the same key.
REDIS_TTL = 24 * 3600
REDIS_RETRIES = 50


class LimiterUnavailable(Exception):
    """The store that keeps the limits did not answer: no call may go on a guess."""


class DatabaseStore:
    """Limits in PostgreSQL (SQLite under `make run`), changed under the row's lock."""

    def update(self, service: str, key: str, change: Callable[[LimiterState, float], object]):
        """Run `change(state, now)` on the limit's state under its row lock, `now` read once
        the lock is held: the time a claim spent waiting for it must not count as inside the
        window."""
        row = lock_or_create(ServiceLimiter, service=service, key=key)
        state = LimiterState(
            recent=list(row.recent),
            next_slot=row.next_slot_at.timestamp() if row.next_slot_at else None,
            permits=dict(row.permits),
        )
        result = change(state, clock.now().timestamp())
        row.recent, row.permits, row.updated_at = state.recent, state.permits, clock.now()
        row.next_slot_at = clock.from_timestamp(state.next_slot) if state.next_slot else None
        row.save(update_fields=["recent", "permits", "next_slot_at", "updated_at"])
        return result


class RedisStore:
    """Limits in Redis, one JSON value per service and key, changed with WATCH/MULTI/EXEC."""

    def __init__(self, url: str):
        import redis

        self.errors = redis.RedisError
        self.watch_error = redis.WatchError
        self.client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)

    def update(self, service: str, key: str, change: Callable[[LimiterState, float], object]):
        """Run `change(state, now)` on the limit's state in an optimistic transaction, tried
        again (with the time read again) when another worker wrote it meanwhile."""
        name = f"processes:limit:{service}:{key}"
        try:
            for _ in range(REDIS_RETRIES):
                with self.client.pipeline() as pipe:
                    try:
                        pipe.watch(name)
                        raw = pipe.get(name)
                        state = LimiterState.from_dict(json.loads(raw) if raw else None)
                        result = change(state, clock.now().timestamp())
                        pipe.multi()
                        pipe.set(name, json.dumps(state.as_dict()), ex=REDIS_TTL)
                        pipe.execute()
                        return result
                    except self.watch_error:
                        continue  # another worker wrote it meanwhile: read it again
        except self.errors as error:
            raise LimiterUnavailable(f"the limits' Redis did not answer: {error}") from error
        raise LimiterUnavailable(
            f"the limit of {service} was changed by others {REDIS_RETRIES} times in a row"
        )


def store() -> DatabaseStore | RedisStore:
    """The configured store: Redis when LIMITS_REDIS_URL is set, else the database."""
    return _store(conf.get("LIMITS_REDIS_URL"))


@cache
def _store(url: str) -> DatabaseStore | RedisStore:
    return RedisStore(url) if url else DatabaseStore()
