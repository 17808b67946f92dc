"""Limits count by the real client address: X-Forwarded-For only as far as NUM_PROXIES trusts it."""

import os
import subprocess
import sys

import pytest
from django.test import RequestFactory
from rest_framework.test import APIClient

from fulfillment.api.client_address import client_address
from fulfillment.api.models import RateWindow
from processes import clock
from tests.api.test_throttling import MID_WINDOW

pytestmark = pytest.mark.django_db
WEBHOOK = "/api/webhooks/payments/"


def _webhook(api: APIClient, forwarded: str | None = None) -> int:
    extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    return api.post(WEBHOOK, {}, format="json", **extra).status_code


def test_a_rotating_x_forwarded_for_does_not_dodge_the_webhook_limit(settings):
    """With no proxy trusted (the default), the header is ignored: one address, one count."""
    settings.API = {**settings.API, "WEBHOOK_THROTTLE_RATE": "5/min"}
    api = APIClient(REMOTE_ADDR="198.51.100.4")
    with clock.frozen(MID_WINDOW):
        statuses = [_webhook(api, f"10.1.{n}.{n}") for n in range(8)]
    assert statuses == [400] * 5 + [429] * 3
    assert list(RateWindow.objects.values_list("key", "hits")) == [
        (f"api_webhook:198.51.100.4:{int(MID_WINDOW.timestamp()) // 60}", 8)
    ]


def test_behind_one_proxy_the_address_it_appended_is_counted(settings):
    """The proxy (REMOTE_ADDR) appends the address it saw; what the client wrote before it is not read."""
    settings.API = {**settings.API, "WEBHOOK_THROTTLE_RATE": "3/min", "NUM_PROXIES": 1}
    proxy = APIClient(REMOTE_ADDR="10.0.0.2")
    with clock.frozen(MID_WINDOW):
        mallory = [_webhook(proxy, f"6.6.6.{n}, 203.0.113.7") for n in range(4)]
        alice = _webhook(proxy, "203.0.113.8")
    assert mallory == [400, 400, 400, 429], "the client's own prefix changes nothing"
    assert alice == 400, "another client behind the same proxy has its own count"
    window = int(MID_WINDOW.timestamp()) // 60
    assert dict(RateWindow.objects.values_list("key", "hits")) == {
        f"api_webhook:203.0.113.7:{window}": 4,
        f"api_webhook:203.0.113.8:{window}": 1,
    }


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "203.0.113.7", "10.0.0.2"),
        (1, None, "10.0.0.2"),
        (1, "203.0.113.7", "203.0.113.7"),
        (1, "1.1.1.1,203.0.113.7", "203.0.113.7"),
        (2, "1.1.1.1, 203.0.113.7, 10.0.0.1", "203.0.113.7"),
        (2, "203.0.113.7", "203.0.113.7"),
        (1, "2001:DB8::1", "2001:db8::1"),
        (1, "not-an-address", "10.0.0.2"),
        (1, "", "10.0.0.2"),
    ],
)
def test_the_client_is_the_nth_address_from_the_right(settings, proxies, forwarded, expected):
    settings.API = {**settings.API, "NUM_PROXIES": proxies}
    extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", **extra)
    assert client_address(request) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "NUM_PROXIES='-1' must be at least 0."),
        ("one", "NUM_PROXIES='one' is not a whole number."),
        ("11", "API['NUM_PROXIES']=11 (from NUM_PROXIES) must be a whole number from 0 to 10"),
    ],
)
def test_a_bad_num_proxies_stops_the_service_at_start(value, message):
    env = {**os.environ, "NUM_PROXIES": value, "DJANGO_SETTINGS_MODULE": "fulfillment.settings"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert message in result.stderr
