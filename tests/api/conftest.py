"""Fixtures of the API tests: two clients with tokens, a request body, signed webhooks."""

import copy
import json

import pytest
from rest_framework.test import APIClient

from fulfillment.api.clients import api_client_create
from fulfillment.api.models import RateWindow, ThrottleUnavailable
from fulfillment.api.webhooks import signature_make
from processes import clock
from tests.factories import ADDRESS

WEBHOOK_SECRET = "whsec_test_secret"
ORDER_BODY = {
    "email": "ada@example.com",
    "payment_token": "tok_ok",
    "shipping_address": ADDRESS,
    "lines": [{"sku": "MUG-001", "quantity": 2}, {"sku": "TEE-042", "quantity": 1}],
}


@pytest.fixture(autouse=True)
def api_settings(settings, db):
    """A known webhook secret, a rate no test reaches by accident, and fresh throttle counts
    (a transactional test commits its counts into the database)."""
    settings.PAYMENT_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.API = {"THROTTLE_RATE": "100000/min", "WEBHOOK_THROTTLE_RATE": "100000/min"}
    RateWindow.objects.all().delete()
    ThrottleUnavailable.objects.all().delete()
    return settings


def client_for(name: str) -> APIClient:
    token, _ = api_client_create(name=name)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


@pytest.fixture
def shop(db):
    """The API client of a shop: an APIClient that sends its token."""
    return client_for("shop")


@pytest.fixture
def other_shop(db):
    return client_for("other-shop")


@pytest.fixture
def body():
    return copy.deepcopy(ORDER_BODY)


def place(api: APIClient, body: dict, key: str = "key-1", **extra):
    return api.post("/api/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


def post_raw(api: APIClient, path: str, raw: bytes | str, content_type="application/json", **extra):
    return api.generic("POST", path, raw, content_type=content_type, **extra)


def signed_webhook(api: APIClient, event: dict, *, secret: str = WEBHOOK_SECRET, at: int | None = None):
    raw = json.dumps(event).encode()
    timestamp = int(clock.now().timestamp()) if at is None else at
    header = signature_make(body=raw, secret=secret, timestamp=timestamp)
    return post_raw(api, "/api/webhooks/payments/", raw, HTTP_X_SIGNATURE=header)


def payment_event(order_id, *, event_id="evt_1", kind="charge.disputed") -> dict:
    return {
        "id": event_id,
        "type": kind,
        "created": int(clock.now().timestamp()),
        "data": {"object": {"id": "ch_123", "reference": str(order_id)}},
    }
