"""The OpenAPI document and Swagger UI, served from the installed packages; settings are checked."""

import re

import pytest
import yaml
from django.core.checks import run_checks
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_schema_is_openapi_3_with_every_endpoint():
    response = APIClient().get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/orders/",
        "/api/orders/{id}/",
        "/api/orders/{id}/events/",
        "/api/orders/{id}/cancel/",
        "/api/orders/{id}/returns/",
        "/api/returns/{id}/",
        "/api/returns/{id}/cancel/",
        "/api/webhooks/payments/",
        "/api/webhooks/carrier/",
    }
    place = schema["paths"]["/api/orders/"]["post"]
    assert {"201", "400", "401", "422", "429"} <= set(place["responses"])
    key = next(p for p in place["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] is True and key["in"] == "header"


def test_the_schema_lists_the_iso_3166_countries_an_address_takes():
    """The address's country is an enum of the codes the API accepts, and says so in words."""
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)["components"]["schemas"]
    country = schema["AddressInRequest"]["properties"]["country"]
    assert country["allOf"] == [{"$ref": "#/components/schemas/CountryEnum"}]
    assert "ISO 3166-1 alpha-2" in country["description"] and "refused" in country["description"]
    codes = schema["CountryEnum"]["enum"]
    assert {"DE", "GB", "NO", "US"} <= set(codes) and len(codes) == len(set(codes)) >= 249
    assert not {"XX", "UK", "EU", "de"} & set(codes)


def test_the_token_is_the_first_security_scheme_and_explains_its_prefix():
    """Swagger UI's Authorize dialog lists the schemes in this order: the token comes first,
    saying to type `Token <key>`; the session says it is for people signed in to the admin."""
    schema = yaml.safe_load(APIClient().get("/api/schema/").content)
    schemes = schema["components"]["securitySchemes"]
    assert list(schemes) == ["tokenAuth", "cookieAuth"]
    token = schemes["tokenAuth"]
    assert (token["type"], token["in"], token["name"]) == ("apiKey", "header", "Authorization")
    assert "Type the word **Token**, a space, then your key" in token["description"]
    assert "`Bearer <key>` or the key alone is refused with 401" in token["description"]
    assert "nothing to type here" in schemes["cookieAuth"]["description"]
    place = schema["paths"]["/api/orders/"]["post"]
    assert place["security"] == [{"tokenAuth": []}, {"cookieAuth": []}]
    assert "`Authorization: Token <key>` (not `Bearer`)" in schema["info"]["description"]


def test_swagger_ui_comes_from_the_sidecar_package_not_a_cdn():
    response = APIClient().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert not re.search(r"""(src|href)=["']https?://""", html), "nothing loaded from another host"


@pytest.mark.parametrize(
    ("api", "check_id"),
    [
        ({"MAX_LINES": 0}, "api.E002"),
        ({"MAX_QUANTITY": "10"}, "api.E002"),
        ({"THROTTLE_RATE": "lots"}, "api.E003"),
        ({"IDEMPOTENCY_KEY_TTL": 3600}, "api.E004"),
        ({"TOKEN_FAILURE_RATE": "20 a minute"}, "api.E003"),
        ({"THROTTLE_REDIS_URL": "http://127.0.0.1:6379/0"}, "api.E005"),
        ({"THROTTLE_REDIS_URL": None}, "api.E005"),
        ({"THROTTLE_CACHE": "api"}, "api.E001"),
        ({"NUM_PROXIES": -1}, "api.E007"),
        ({"NUM_PROXIES": "1"}, "api.E007"),
        ({"NUM_PROXIES": True}, "api.E007"),
        ({"NUM_PROXIES": 11}, "api.E007"),
        ({"MAX_LINE": 5}, "api.E001"),
        ({"CANCEL_WAIT_SECONDS": -1}, "api.E006"),
    ],
)
def test_bad_api_settings_are_refused_at_start_up(settings, api, check_id):
    settings.API = api
    assert check_id in {message.id for message in run_checks()}


def test_an_unset_webhook_secret_is_a_warning(settings):
    settings.PAYMENT_WEBHOOK_SECRET = ""
    assert "api.W001" in {message.id for message in run_checks(include_deployment_checks=True)}
    assert "api.W001" not in {message.id for message in run_checks()}


def test_the_schema_describes_why_an_order_waits():
    """`waiting` on an order: a sentence and the time of the next thing, or null once finished."""
    schemas = yaml.safe_load(APIClient().get("/api/schema/").content)["components"]["schemas"]
    waiting = schemas["OrderOut"]["properties"]["waiting"]
    assert waiting["nullable"] is True and "finished" in waiting["description"]
    [ref] = [part["$ref"] for part in waiting["allOf"]]
    properties = schemas[ref.rsplit("/", 1)[1]]["properties"]
    assert properties["reason"]["type"] == "string"
    assert properties["next_at"] == {**properties["next_at"], "format": "date-time", "nullable": True}
    assert {"reason", "next_at"} <= set(schemas[ref.rsplit("/", 1)[1]]["required"])
