"""django-q2's Redis broker taking up to a few waiting tasks per round trip instead of one.

django-q2's pusher asks its broker for tasks in a loop, and its Redis broker pops one task per
`BLPOP`: a round trip to Redis, and its parsing, for every task. This one pops with `BLMPOP`
(Redis 7): it still waits up to a second when the queue is empty, and it takes up to TAKE_AT_MOST
tasks when several are waiting, in one round trip. The pusher hands them to its workers one
by one, as before. A task is taken from Redis no earlier than before by more than the few the
pusher now holds while its workers' queue is full (django-q2 already takes up to workers²
ahead, in that queue): with the Redis broker a task a cluster has taken is lost with it
either way (at most once; the sweeper wakes the process again).

A Redis without `BLMPOP` (before 7.0) answers it with an error: the broker then falls back to
`BLPOP` for good.
"""

import redis
from django_q.brokers.redis_broker import Redis

# Tasks one round trip takes at most: as many as a cluster of four workers starts at once.
TAKE_AT_MOST = 4
WAIT_SECONDS = 1  # django-q2's own BLPOP timeout


class RedisTakingSeveral(Redis):
    """django-q2's Redis broker, its dequeue taking up to TAKE_AT_MOST tasks at once."""

    one_at_a_time = False

    def dequeue(self):
        if self.one_at_a_time:
            return super().dequeue()
        try:
            popped = self.connection.blmpop(
                WAIT_SECONDS, 1, self.list_key, direction="LEFT", count=TAKE_AT_MOST
            )
        except redis.ResponseError:  # unknown command: a Redis before 7.0
            self.one_at_a_time = True
            return super().dequeue()
        if popped:
            return [(None, task) for task in popped[1]]
        return None
