"""429 when a client (or a webhook sender) goes past its rate, counted in a shared cache."""

import os
import subprocess
import sys

import pytest
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import connection
from rest_framework.test import APIClient

from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


def test_past_the_rate_a_client_gets_429_with_retry_after(settings):
    settings.API = {**settings.API, "THROTTLE_RATE": "3/min"}
    shop, other = client_for("shop"), client_for("other")
    assert [shop.get("/api/orders/").status_code for _ in range(3)] == [200, 200, 200]

    response = shop.get("/api/orders/")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled" and int(response["Retry-After"]) > 0
    assert other.get("/api/orders/").status_code == 200, "each client has its own count"


def test_webhooks_are_throttled_per_sender(settings):
    settings.API = {**settings.API, "WEBHOOK_THROTTLE_RATE": "2/min"}
    statuses = [APIClient().post("/api/webhooks/payments/", {}, format="json").status_code for _ in range(3)]
    assert statuses == [400, 400, 429]


def test_counts_live_in_the_shared_cache():
    """Not in a per-process memory: the count is in the database (or Redis), seen by every process."""
    shop = client_for("shop")
    shop.get("/api/orders/")
    user_id = shop.get("/api/orders/").wsgi_request.user.pk
    assert len(caches["api"].get(f"throttle_api_client_{user_id}")) == 2
    if isinstance(caches["api"], DatabaseCache):
        assert "api_cache" in connection.introspection.table_names(), "made by migrate"


@pytest.mark.parametrize(
    ("redis_url", "backend"),
    [
        ("", "django.core.cache.backends.db.DatabaseCache"),
        ("redis://127.0.0.1:6379/3", "django.core.cache.backends.redis.RedisCache"),
    ],
)
def test_the_throttle_cache_is_the_database_or_redis(redis_url, backend):
    env = {**os.environ, "REDIS_URL": redis_url, "DJANGO_SETTINGS_MODULE": "fulfillment.settings"}
    code = "from django.conf import settings; print(settings.CACHES['api']['BACKEND'])"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == backend
