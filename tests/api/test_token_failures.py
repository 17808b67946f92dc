"""Failed token attempts are limited per address: past the limit, 429 before any token is read."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from fulfillment.api.clients import api_client_create
from fulfillment.api.models import RateWindow
from processes import clock
from tests.api.test_throttling import MID_WINDOW

pytestmark = pytest.mark.django_db
ATTACKER = "198.51.100.66"


def _with_token(token: str, address: str = ATTACKER) -> APIClient:
    api = APIClient(REMOTE_ADDR=address)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def test_past_the_failed_attempts_an_address_gets_429_without_its_token_read(settings):
    settings.API = {**settings.API, "TOKEN_FAILURE_RATE": "3/min"}
    token, _ = api_client_create(name="shop")
    with clock.frozen(MID_WINDOW):
        guesses = [_with_token(f"guess-{n}").get("/api/orders/") for n in range(3)]
        with CaptureQueriesContext(connection) as queries:
            refused = _with_token(token).get("/api/orders/")
        elsewhere = _with_token(token, address="203.0.113.5").get("/api/orders/")

    assert [r.status_code for r in guesses] == [401, 401, 401]
    assert guesses[0].json() == {"code": "authentication_failed", "detail": "Invalid token."}
    assert refused.status_code == 429, "even the right token, once the address is over its limit"
    assert refused.json() == {
        "code": "throttled",
        "detail": "Too many failed token attempts from your address. Expected available in 30 seconds.",
    }
    assert refused["Retry-After"] == "30"
    assert not any("authtoken_token" in query["sql"] for query in queries), "the token was not looked up"
    assert elsewhere.status_code == 200, "another address is not held back"
    window = int(MID_WINDOW.timestamp()) // 60
    assert RateWindow.objects.get(key=f"api_token_failures:{ATTACKER}:{window}").hits == 3


def test_the_limit_lifts_with_the_next_window(settings):
    settings.API = {**settings.API, "TOKEN_FAILURE_RATE": "2/min"}
    token, _ = api_client_create(name="shop")
    with clock.frozen(MID_WINDOW):
        statuses = [_with_token("wrong").get("/api/orders/").status_code for _ in range(3)]
        clock.advance(30)
        after = _with_token(token).get("/api/orders/").status_code
    assert statuses == [401, 401, 429] and after == 200


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token \xe9t\xe9"])
def test_malformed_token_headers_count_as_failures(settings, header):
    settings.API = {**settings.API, "TOKEN_FAILURE_RATE": "1/min"}
    api = APIClient(REMOTE_ADDR=ATTACKER)
    with clock.frozen(MID_WINDOW):
        first = api.get("/api/orders/", HTTP_AUTHORIZATION=header).status_code
        second = api.get("/api/orders/", HTTP_AUTHORIZATION=header).status_code
    assert (first, second) == (401, 429)


def test_good_tokens_and_sessions_are_not_counted(settings):
    settings.API = {**settings.API, "TOKEN_FAILURE_RATE": "1/min"}
    token, _ = api_client_create(name="shop")
    person = get_user_model().objects.create_user("browser", password="pw-123456789")
    session = APIClient(REMOTE_ADDR=ATTACKER)
    session.force_login(person)
    with clock.frozen(MID_WINDOW):
        statuses = [_with_token(token).get("/api/orders/").status_code for _ in range(3)]
        statuses += [session.get("/api/orders/").status_code for _ in range(2)]
        statuses.append(APIClient(REMOTE_ADDR=ATTACKER).get("/api/orders/").status_code)
    assert statuses == [200, 200, 200, 200, 200, 401]
    assert not RateWindow.objects.filter(key__startswith="api_token_failures:").exists()
