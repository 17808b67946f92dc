"""Clients authenticate with a DRF token (or a session); create_api_client makes one."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from fulfillment.models import Order
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db


HOW = "'Authorization: Token <key>' (the word Token, a space, then your key)"


def test_without_credentials_is_401_with_challenge():
    """No credentials: 401 JSON that says how to send the token, and WWW-Authenticate too."""
    response = APIClient().get("/api/orders/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    detail = f"No credentials: send your API token as {HOW}."
    assert response.json() == {"code": "not_authenticated", "detail": detail}


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer {token}", f"This API does not take Bearer credentials: send your API token as {HOW}."),
        ("bearer {token}", f"This API does not take bearer credentials: send your API token as {HOW}."),
        ("Basic c2hvcDpwdw==", f"This API does not take Basic credentials: send your API token as {HOW}."),
        ("{token}", f"The Authorization header has no 'Token' before the key: send {HOW}."),
        ("Token", f"No key follows the word Token: send {HOW}."),
        ("Token {token} {token}", f"The key must be one word, without spaces: send {HOW}."),
    ],
)
def test_a_badly_formed_authorization_header_is_told_how_to_send_the_token(shop, header, detail):
    """Even with a good key: the 401 says what is wrong and how to send it, never "credentials
    were not provided"; nothing is created."""
    token = shop._credentials["HTTP_AUTHORIZATION"].split()[1]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header.format(token=token))
    for response in (api.get("/api/orders/"), api.post("/api/orders/", {}, format="json")):
        assert response.status_code == 401 and response["WWW-Authenticate"] == "Token"
        assert response.json() == {"code": "authentication_failed", "detail": detail}
    assert not Order.objects.exists()


def test_unknown_token_is_401():
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api.get("/api/orders/")
    assert response.status_code == 401
    assert response.json() == {"code": "authentication_failed", "detail": "Invalid token."}


def test_token_authenticates(shop):
    assert shop.get("/api/orders/").status_code == 200


def test_session_works_for_the_browsable_api():
    """A signed-in user (e.g. in the browser) reaches the API through the session."""
    user = get_user_model().objects.create_user("browser", password="pw-123456789")
    api = APIClient()
    api.force_login(user)
    response = api.get("/api/orders/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert b"Fulfillment" in response.content or b"Order List" in response.content


def test_create_api_client_prints_its_token():
    """The token alone goes to stdout, so `TOKEN=$(manage.py create_api_client shop)` works."""
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_client", "acme-shop", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert len(token) == 40 and "Created API client 'acme-shop'" in err.getvalue()
    user = get_user_model().objects.get(username="acme-shop")
    assert not user.has_usable_password()

    again = io.StringIO()
    call_command("create_api_client", "acme-shop", stdout=again, stderr=io.StringIO())
    assert again.getvalue().strip() == token, "running it again shows the same token"

    rotated = io.StringIO()
    call_command("create_api_client", "acme-shop", "--rotate", stdout=rotated, stderr=io.StringIO())
    assert rotated.getvalue().strip() != token
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/orders/").status_code == 401, "the old token stops working"


def test_create_api_client_refuses_a_persons_login_and_bad_names():
    get_user_model().objects.create_user("operator", password="pw-123456789")
    with pytest.raises(CommandError, match="person's login"):
        call_command("create_api_client", "operator", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="valid username"):
        call_command("create_api_client", "bad name!", stdout=io.StringIO(), stderr=io.StringIO())


def test_each_client_has_its_own_token():
    assert client_for("a")._credentials != client_for("b")._credentials
