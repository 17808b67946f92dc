"""Fixtures of the operations tests: a production environment, a fresh sweeper heartbeat."""

import os

import pytest
from django.core.management.utils import get_random_secret_key

METRICS_TOKEN = "metrics-token-for-tests-0123456789"


def production_environment(**overrides: str) -> dict[str, str]:
    """The environment of a production web server, as docs/production.md lists it."""
    env = {key: value for key, value in os.environ.items() if key not in ("DEBUG", "SECRET_KEY")}
    env.update(
        DJANGO_ENV="production",
        SECRET_KEY=get_random_secret_key(),
        ALLOWED_HOSTS="shop.example.com",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        CSRF_TRUSTED_ORIGINS="https://shop.example.com",
        PAYMENT_WEBHOOK_SECRET="whsec_production_test",
        METRICS_TOKEN=METRICS_TOKEN,
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


@pytest.fixture
def metrics_settings(settings):
    settings.OPS = {"METRICS_TOKEN": METRICS_TOKEN, "METRICS_ALLOWED_NETWORKS": []}
    return settings


# Real clusters against the test database (tests/cluster/conftest.py starts and stops them).
from tests.cluster.conftest import start_cluster  # noqa: E402, F401
from tests.external_processes import emptied_redis_database  # noqa: E402

SPARE_REDIS_URL = "redis://127.0.0.1:6379/9"


@pytest.fixture
def spare_redis():
    """Redis database 9 for the broker, emptied before and after; skip without Redis.

    Request it before `start_cluster`, so that the clusters are stopped before the flush.
    """
    yield from emptied_redis_database(SPARE_REDIS_URL, "the two-cluster test needs Redis")
