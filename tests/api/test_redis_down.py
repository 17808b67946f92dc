"""Redis down: the API degrades, it never 500s. The limits let requests through, log it and
count it for /metrics; orders are still placed and their wake-ups are left for the sweeper.

Redis here is always one of the test's own (ThrowawayRedis, or a socket that never answers):
the machine's shared Redis is never stopped.
"""

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time

import pytest
import redis
from rest_framework.test import APIClient

from fulfillment.api.models import ThrottleUnavailable
from fulfillment.models import Order
from processes import clock
from tests import external_processes
from tests.api.conftest import WEBHOOK_SECRET, client_for, place
from tests.api.test_throttling import MID_WINDOW
from tests.cluster.conftest import APP_NAME, cluster_environment
from tests.external_processes import WebServer, wait_for_sessions_to_close

pytestmark = pytest.mark.django_db
METRICS_TOKEN = "metrics-token-for-redis-down-tests"
WEBHOOK = "/api/webhooks/payments/"


@pytest.fixture
def throwaway_redis():
    server = external_processes.throwaway_redis()
    server.start()
    yield server
    server.stop()


def _uncounted() -> dict[str, int]:
    return dict(ThrottleUnavailable.objects.values_list("scope", "requests"))


def _timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_with_its_redis_stopped_the_api_answers_and_counts_what_it_let_through(
    settings, throwaway_redis, catalogue, body, caplog
):
    settings.API = {**settings.API, "THROTTLE_REDIS_URL": throwaway_redis.url, "THROTTLE_RATE": "5/min"}
    settings.OPS = {**settings.OPS, "METRICS_TOKEN": METRICS_TOKEN, "METRICS_ALLOWED_NETWORKS": []}
    shop, wrong = client_for("shop"), APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    with clock.frozen(MID_WINDOW):
        assert shop.get("/api/orders/").status_code == 200
        throwaway_redis.stop()
        with caplog.at_level(logging.WARNING, logger="fulfillment.api.throttling"):
            answers = [
                _timed(lambda: shop.get("/api/orders/")),
                _timed(lambda: place(shop, body, key="while-redis-is-down")),
                _timed(lambda: APIClient().post(WEBHOOK, {}, format="json")),
                _timed(lambda: wrong.get("/api/orders/")),
            ]

    assert [response.status_code for response, _ in answers] == [200, 201, 400, 401]
    assert max(seconds for _, seconds in answers) < 2.0, "a dead Redis does not hang a request"
    assert Order.objects.filter(email=body["email"]).count() == 1
    # Every token request looks its address's failures up first; the wrong one also adds to
    # them: four checks of that limit could not be made (two good tokens, one wrong twice).
    assert _uncounted() == {"api_client": 2, "api_webhook": 1, "api_token_failures": 4}
    logged = caplog.text.count("Redis did not answer the rate limits")
    assert 1 <= logged < sum(_uncounted().values()), "logged once a second, not once per request"
    metrics = APIClient().get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").content.decode()
    assert 'fulfillment_api_throttle_unavailable_total{scope="api_client"} 2.0' in metrics
    assert 'fulfillment_api_throttle_unavailable_total{scope="api_webhook"} 1.0' in metrics


def test_once_redis_is_back_the_limits_count_again(settings, throwaway_redis):
    settings.API = {**settings.API, "THROTTLE_REDIS_URL": throwaway_redis.url, "THROTTLE_RATE": "2/min"}
    shop = client_for("shop")
    throwaway_redis.stop()
    with clock.frozen(MID_WINDOW):
        down = [shop.get("/api/orders/").status_code for _ in range(4)]
        throwaway_redis.start()
        time.sleep(1.1)  # this process leaves Redis alone for a second after it failed to answer
        back = [shop.get("/api/orders/").status_code for _ in range(3)]
    assert down == [200, 200, 200, 200], "over the rate, but nothing could count it"
    assert back == [200, 200, 429]
    assert _uncounted() == {"api_client": 4, "api_token_failures": 4}


@pytest.fixture
def silent_redis():
    """A TCP port that accepts connections and never answers: a Redis that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    stop.set()
    thread.join(timeout=5)
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_redis_that_hangs_costs_a_request_a_quarter_second_at_most(settings, silent_redis):
    settings.API = {**settings.API, "THROTTLE_REDIS_URL": silent_redis}
    shop = client_for("shop")
    first, first_seconds = _timed(lambda: shop.get("/api/orders/"))
    then, then_seconds = _timed(lambda: shop.get("/api/orders/"))
    assert (first.status_code, then.status_code) == (200, 200)
    assert first_seconds < 1.0, "the read timeout, once"
    assert then_seconds < 0.2, "then Redis is left alone for a second"
    assert _uncounted() == {"api_client": 2, "api_token_failures": 2}


@pytest.mark.django_db(transaction=True)
def test_gunicorn_with_its_redis_down_places_orders_and_leaves_wake_ups_to_the_sweeper(
    throwaway_redis, catalogue, body, tmp_path
):
    """The whole deployment's Redis (broker and limits, REDIS_URL) stops: gunicorn still places
    the order (201) quickly; its wake-up could not be enqueued, so the row stays due for the
    sweeper; /metrics counts the requests the limit let through; nothing answers 500."""
    from fulfillment.api.clients import api_client_create

    token, _ = api_client_create(name="shop")
    env = cluster_environment(
        REDIS_URL=throwaway_redis.url,
        Q_CLUSTER_NAME="redis-down-test",
        METRICS_TOKEN=METRICS_TOKEN,
        PAYMENT_WEBHOOK_SECRET=WEBHOOK_SECRET,
    )
    server = WebServer(env, tmp_path / "gunicorn.log")
    server.start()
    try:
        throwaway_redis.stop()
        auth = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        started = time.monotonic()
        placed = server.request(
            "POST", "/api/orders/", json.dumps(body).encode(), **auth, **{"Idempotency-Key": "k-1"}
        )
        placed_seconds = time.monotonic() - started
        listed = server.request("GET", "/api/orders/", **auth)
        webhook = server.request("POST", WEBHOOK, b"{}", **{"Content-Type": "application/json"})
        ready = server.request("GET", "/readyz")
        metrics = server.request("GET", "/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
    finally:
        server.stop()
        print(server.log())
        wait_for_sessions_to_close(APP_NAME, timeout=10.0)

    assert placed[0] == 201, placed
    assert placed_seconds < 5.0, "the enqueue fails fast and is left for the sweeper"
    order = Order.objects.get(pk=json.loads(placed[2])["id"])
    assert order.next_run_at is not None and order.enqueued_at is not None, "due: the sweeper re-sends it"
    assert listed[0] == 200 and json.loads(listed[2])["count"] == 1
    assert webhook[0] == 400 and json.loads(webhook[2])["code"] == "invalid_signature"
    assert ready[0] == 503, "readiness is honest about the broker"
    assert 'fulfillment_api_throttle_unavailable_total{scope="api_client"} 2.0' in metrics[2]
    assert 'fulfillment_api_throttle_unavailable_total{scope="api_webhook"} 1.0' in metrics[2]
    assert "could not enqueue" in server.log()
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(throwaway_redis.url, socket_connect_timeout=0.5).ping()


@pytest.mark.parametrize(
    ("redis_url", "broker_url"),
    [
        ("redis://127.0.0.1:6379/3", "redis://127.0.0.1:6379/3?socket_connect_timeout=0.5&socket_timeout=3"),
        (
            "redis://h:6379/0?socket_timeout=10",
            "redis://h:6379/0?socket_timeout=10&socket_connect_timeout=0.5",
        ),
    ],
)
def test_the_broker_gives_up_on_a_silent_redis_within_seconds(redis_url, broker_url):
    """django-q2 connects with redis.from_url: the timeouts ride on the URL, unless it has its own."""
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "fulfillment.settings"}
    code = "from django.conf import settings; print(settings.Q_CLUSTER['redis'])"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == broker_url
