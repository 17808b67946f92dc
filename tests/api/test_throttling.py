"""429 when a client (or a webhook sender) goes past its rate, counted atomically and shared."""

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from rest_framework.test import APIClient

from fulfillment.api.clients import api_client_create
from fulfillment.api.models import RateWindow
from processes import clock
from tests.api.conftest import client_for
from tests.external_processes import emptied_redis_database

pytestmark = pytest.mark.django_db
# Mid-window for minutes, hours and days alike: a test's requests never straddle two windows.
MID_WINDOW = datetime(2026, 12, 6, 12, 30, 30, tzinfo=UTC)
REDIS_THROTTLE_URL = "redis://127.0.0.1:6379/12"
REDIS_WEBHOOK_THROTTLE_URL = "redis://127.0.0.1:6379/13"


def test_past_the_rate_a_client_gets_429_with_retry_after(settings):
    settings.API = {**settings.API, "THROTTLE_RATE": "3/min"}
    shop, other = client_for("shop"), client_for("other")
    with clock.frozen(MID_WINDOW):
        assert [shop.get("/api/orders/").status_code for _ in range(3)] == [200, 200, 200]
        response = shop.get("/api/orders/")
        assert other.get("/api/orders/").status_code == 200, "each client has its own count"

    assert response.status_code == 429
    assert response.json() == {
        "code": "throttled",
        "detail": "Request was throttled. Expected available in 30 seconds.",
    }
    assert response["Retry-After"] == "30", "the seconds left in the window"


def test_a_new_window_starts_a_new_count(settings):
    settings.API = {**settings.API, "THROTTLE_RATE": "2/min"}
    shop = client_for("shop")
    with clock.frozen(MID_WINDOW):
        assert [shop.get("/api/orders/").status_code for _ in range(3)] == [200, 200, 429]
        clock.advance(30)
        assert shop.get("/api/orders/").status_code == 200


def test_webhooks_are_throttled_per_sender(settings):
    settings.API = {**settings.API, "WEBHOOK_THROTTLE_RATE": "2/min"}
    with clock.frozen(MID_WINDOW):
        statuses = [
            APIClient().post("/api/webhooks/payments/", {}, format="json").status_code for _ in range(3)
        ]
        other = APIClient(REMOTE_ADDR="192.0.2.9").post("/api/webhooks/payments/", {}, format="json")
    assert statuses == [400, 400, 429]
    assert other.status_code == 400, "another address has its own count"


def test_counts_are_rows_every_process_sees():
    """Not in a per-process memory: without Redis the count is a row in api_ratewindow."""
    shop = client_for("shop")
    with clock.frozen(MID_WINDOW):
        shop.get("/api/orders/")
        user_id = shop.get("/api/orders/").wsgi_request.user.pk
    window = RateWindow.objects.get()
    assert window.key == f"api_client:user:{user_id}:{int(MID_WINDOW.timestamp()) // 60}"
    assert window.hits == 2 and window.ends_at == int(MID_WINDOW.timestamp()) // 60 * 60 + 60
    assert "api_cache" not in connection.introspection.table_names(), "the old cache table is gone"


def test_windows_that_ended_are_deleted_in_passing():
    from fulfillment.api.rate_windows import database_windows

    database_windows.last_purge = float("-inf")  # as in a process that has not purged yet
    RateWindow.objects.create(key="api_client:user:1:1", hits=5, ends_at=60)
    with clock.frozen(MID_WINDOW):
        client_for("shop").get("/api/orders/")
    assert list(RateWindow.objects.values_list("hits", flat=True)) == [1]


@pytest.mark.parametrize(
    ("environment", "url"),
    [
        ({"REDIS_URL": ""}, ""),
        ({"REDIS_URL": "redis://127.0.0.1:6379/3"}, "redis://127.0.0.1:6379/3"),
        (
            {"REDIS_URL": "redis://127.0.0.1:6379/3", "API_THROTTLE_REDIS_URL": "redis://10.0.0.5:6379/1"},
            "redis://10.0.0.5:6379/1",
        ),
    ],
)
def test_the_limits_count_in_redis_when_there_is_one(environment, url):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "API_THROTTLE_REDIS_URL")}
    env.update(environment, DJANGO_SETTINGS_MODULE="fulfillment.settings")
    code = "from django.conf import settings; print(repr(settings.API['THROTTLE_REDIS_URL']))"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == repr(url)


def _concurrently(send, *, threads: int, each: int) -> list[int]:
    """Run `send()` threads x each times from `threads` threads started together; the statuses."""
    statuses: list[int] = []
    start = threading.Barrier(threads)

    def worker():
        try:
            start.wait()
            for _ in range(each):
                statuses.append(send())
        finally:
            connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    return statuses


@pytest.fixture(params=["database", "redis"])
def store(request, settings):
    """Where the limits count: the database table ("database"), or a Redis database of this
    test's own (its URL). Each test gets its own Redis database, since the fixture empties it
    before and after: sharing one, a test's flush wiped the other's counter when pytest-xdist
    ran them at once, and 64 requests passed a limit of 40."""
    if request.param == "database":
        yield "database"
        return
    own = REDIS_WEBHOOK_THROTTLE_URL if "webhook" in request.node.name else REDIS_THROTTLE_URL
    for url in emptied_redis_database(own, "the Redis counter is not tested"):
        settings.API = {**settings.API, "THROTTLE_REDIS_URL": url}
        yield url


def _recorded(store: str, key: str) -> int:
    if store == "database":
        return RateWindow.objects.get(key=key).hits
    import redis

    return int(redis.Redis.from_url(store).get(f"fulfillment:rate:{key}"))


@pytest.mark.django_db(transaction=True)
def test_concurrent_client_requests_are_counted_exactly(settings, store):
    """64 requests, 8 at a time, under a limit of 40: exactly 40 served and 24 refused, and the
    count says 64 (the read-append-write counter lost about a third of them)."""
    settings.API = {**settings.API, "THROTTLE_RATE": "40/hour"}
    token, _ = api_client_create(name="shop")  # committed: the threads see them

    def send() -> int:
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        return api.get("/api/orders/?page_size=1").status_code

    with clock.frozen(MID_WINDOW):
        statuses = _concurrently(send, threads=8, each=8)
    shop_id = get_user_model().objects.get(username="shop").pk
    assert len(statuses) == 64
    assert (statuses.count(200), statuses.count(429)) == (40, 24)
    assert _recorded(store, f"api_client:user:{shop_id}:{int(MID_WINDOW.timestamp()) // 3600}") == 64


@pytest.mark.django_db(transaction=True)
def test_concurrent_webhooks_are_counted_exactly(settings, store):
    settings.API = {**settings.API, "WEBHOOK_THROTTLE_RATE": "40/hour"}

    def send() -> int:
        return APIClient().post("/api/webhooks/payments/", {}, format="json").status_code

    with clock.frozen(MID_WINDOW):
        statuses = _concurrently(send, threads=8, each=8)
    assert (statuses.count(400), statuses.count(429), len(statuses)) == (40, 24, 64)
    assert _recorded(store, f"api_webhook:127.0.0.1:{int(MID_WINDOW.timestamp()) // 3600}") == 64
