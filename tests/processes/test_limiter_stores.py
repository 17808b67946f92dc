"""A published limit kept in Redis (LIMITS_REDIS_URL) holds as in the database; when its Redis
does not answer, no call goes on a guess, and calls go again once it is back."""

from datetime import timedelta

import pytest

from fulfillment.models import Order, OrderState
from fulfillment.simulators.calls import busiest_window
from processes import clock
from processes.flow import limiter_stores
from processes.models.flow import ServiceLimiter
from processes.models.journal import StepAttempt
from processes.models.process import Hold
from tests.circuit_scenarios import run_until_at_rest
from tests.conftest import ENGINE_DB
from tests.external_processes import redis_client_or_skip, throwaway_redis
from tests.factories import make_catalogue, place_order, run_due

pytestmark = ENGINE_DB
# A Redis database of its own: tests/ops empties database 9, tests/cluster 7, the soaks 8,
# and they may run at the same time (make test runs three pytest processes).
SPARE_REDIS = "redis://127.0.0.1:6379/11"


@pytest.fixture
def limits_in_redis(settings):
    client = redis_client_or_skip(SPARE_REDIS, "the Redis limiter is not tested")
    for key in client.scan_iter("processes:limit:*"):
        client.delete(key)
    settings.PROCESSES = {**getattr(settings, "PROCESSES", {}), "LIMITS_REDIS_URL": SPARE_REDIS}
    yield client
    for key in client.scan_iter("processes:limit:*"):
        client.delete(key)
    client.close()


def test_a_limit_kept_in_redis_holds_the_carrier_to_five_calls_a_second(limits_in_redis, settings):
    make_catalogue(on_hand=500)
    settings.CARRIER_RATE_LIMIT = 5
    with clock.frozen():
        for n in range(25):
            place_order(email=f"o{n}@example.com")
        run_until_at_rest(limit=timedelta(minutes=5), cap=timedelta(milliseconds=50))

    assert busiest_window("carrier", seconds=1.0, operations=["create_label"])[0] == 5
    assert Order.objects.filter(state=OrderState.COMPLETED).count() == 25
    assert StepAttempt.objects.filter(step="create_label").count() == 25
    assert limits_in_redis.exists("processes:limit:carrier:") and not ServiceLimiter.objects.exists()


def test_while_the_limits_redis_is_down_no_limited_call_goes_and_then_they_do(catalogue, settings):
    redis = throwaway_redis()
    redis.start()
    settings.PROCESSES = {**getattr(settings, "PROCESSES", {}), "LIMITS_REDIS_URL": redis.url}
    settings.CARRIER_RATE_LIMIT = 5
    try:
        order = place_order()
        redis.stop()
        with clock.frozen(clock.now()):
            run_due(order)  # charge and reserve; the label waits: its limit cannot be read
            order.refresh_from_db()
            assert (order.step, order.held_by, order.attempts) == ("create_label", Hold.LIMIT, 0)
            assert not StepAttempt.objects.filter(step="create_label").exists()

            redis.start()
            clock.advance(order.next_run_at - clock.now())
            run_due(order)
        order.refresh_from_db()
        assert order.step == "pick" and order.held_by == ""
    finally:
        redis.stop()
        limiter_stores._store.cache_clear()
