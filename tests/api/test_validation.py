"""Every invalid input is a 400 with field-level messages, and places nothing."""

import json

import pytest

from fulfillment.api.models import IdempotencyRecord
from fulfillment.models import Order
from tests.api.conftest import place, post_raw

pytestmark = pytest.mark.django_db


def errors_of(response) -> dict:
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] == "invalid" and data["detail"]
    return data["errors"]


def test_unknown_sku_names_the_line(shop, body, catalogue):
    body["lines"][1]["sku"] = "NOPE-1"
    assert errors_of(place(shop, body)) == {"lines": {"1": {"sku": ["Unknown SKU 'NOPE-1'."]}}}
    assert not Order.objects.exists()


def test_the_same_sku_twice_is_refused(shop, body, catalogue):
    body["lines"][1]["sku"] = "MUG-001"
    assert "earlier line" in errors_of(place(shop, body))["lines"]["1"]["sku"][0]


@pytest.mark.parametrize(
    ("quantity", "message"),
    [
        (0, "Ensure this value is greater than or equal to 1."),
        (-3, "Ensure this value is greater than or equal to 1."),
        (101, "Ensure this value is less than or equal to 100."),
        ("2", "A valid integer is required."),
        (2.5, "A valid integer is required."),
        (True, "A valid integer is required."),
        (None, "This field may not be null."),
    ],
)
def test_quantity_must_be_a_whole_number_within_bounds(shop, body, catalogue, quantity, message):
    body["lines"][0]["quantity"] = quantity
    assert errors_of(place(shop, body)) == {"lines": {"0": {"quantity": [message]}}}


def test_the_maximum_quantity_is_configured(shop, body, catalogue, settings):
    settings.API = {**settings.API, "MAX_QUANTITY": 5}
    body["lines"][0]["quantity"] = 6
    assert errors_of(place(shop, body))["lines"]["0"]["quantity"] == [
        "Ensure this value is less than or equal to 5."
    ]


def test_too_many_lines(shop, body, catalogue, settings):
    settings.API = {**settings.API, "MAX_LINES": 1}
    assert errors_of(place(shop, body)) == {"lines": ["Ensure this field has no more than 1 elements."]}


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "This list may not be empty."),
        ({"sku": "MUG-001"}, 'Expected a list of items but got type "dict".'),
        ("MUG-001", 'Expected a list of items but got type "str".'),
    ],
)
def test_lines_must_be_a_non_empty_list(shop, body, catalogue, lines, message):
    body["lines"] = lines
    assert errors_of(place(shop, body)) == {"lines": [message]}


def test_missing_address_fields_are_each_named(shop, body, catalogue):
    body["shipping_address"] = {"name": "Ada", "line1": "", "country": "de"}
    assert errors_of(place(shop, body)) == {
        "shipping_address": {
            "line1": ["This field may not be blank."],
            "city": ["This field is required."],
            "postal_code": ["This field is required."],
            "country": ["Country codes are upper case: send DE."],
        }
    }


NOT_A_COUNTRY = "Not an ISO 3166-1 alpha-2 country code: send two upper-case letters, e.g. DE or GB."


@pytest.mark.parametrize("country", ["XX", "UK", "EU", "QZ", "DEU", "Germany", "D", "ß", " DE", "DE\n"])
def test_a_country_iso_3166_does_not_list_is_refused(shop, body, catalogue, country):
    """Two capital letters are not enough: the code must be one ISO 3166-1 lists (UK is GB), as
    sent (the schema's enum has no spaces)."""
    body["shipping_address"]["country"] = country
    assert errors_of(place(shop, body)) == {"shipping_address": {"country": [NOT_A_COUNTRY]}}
    assert not Order.objects.exists()
    assert not IdempotencyRecord.objects.exists()


@pytest.mark.parametrize(
    ("country", "message"), [("", "This field may not be blank."), (49, "Not a valid string.")]
)
def test_a_country_that_is_not_a_code_is_refused(shop, body, catalogue, country, message):
    body["shipping_address"]["country"] = country
    assert errors_of(place(shop, body)) == {"shipping_address": {"country": [message]}}


@pytest.mark.parametrize("country", ["DE", "GB", "SS", "AX"])
def test_a_listed_upper_case_country_is_placed(shop, body, catalogue, country):
    body["shipping_address"]["country"] = country
    response = place(shop, body)
    assert response.status_code == 201, response.content
    assert Order.objects.get().shipping_address["country"] == country


def test_missing_fields(shop, catalogue):
    assert set(errors_of(place(shop, {}))) == {"email", "payment_token", "shipping_address", "lines"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", 42, "Not a valid string."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("payment_token", ["tok_ok"], "Not a valid string."),
        ("payment_token", "t" * 65, "Ensure this field has no more than 64 characters."),
        ("shipping_address", "Berlin", "Invalid data. Expected a dictionary, but got str."),
    ],
)
def test_wrong_types_name_the_field(shop, body, catalogue, field, value, message):
    body[field] = value
    errors = errors_of(place(shop, body))[field]
    assert errors == [message] or errors == {"non_field_errors": [message]}


def test_text_a_database_cannot_store_is_refused(shop, body, catalogue):
    body["shipping_address"]["city"] = "Ber\x00lin"
    assert errors_of(place(shop, body))["shipping_address"]["city"] == ["Null characters are not allowed."]


@pytest.mark.parametrize(
    "raw", [b"{", b'{"email": }', b"\xff\xfe", b'{"lines": NaN}', b"[" * 5000 + b"]" * 5000]
)
def test_malformed_json_is_400(shop, catalogue, raw):
    response = post_raw(shop, "/api/orders/", raw, HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert response.json()["detail"].startswith("The body is")


def test_a_body_that_is_not_an_object_is_400(shop, catalogue):
    response = post_raw(shop, "/api/orders/", b"[1, 2]", HTTP_IDEMPOTENCY_KEY="k")
    assert errors_of(response) == {"non_field_errors": ["Invalid data. Expected a dictionary, but got list."]}


def test_nesting_is_limited(shop, catalogue):
    deep = {"lines": json.loads("[" * 30 + "]" * 30)}
    response = post_raw(shop, "/api/orders/", json.dumps(deep), HTTP_IDEMPOTENCY_KEY="k")
    assert response.status_code == 400 and "nested" in response.json()["detail"]


def test_oversized_body_is_400(shop, body, catalogue, settings):
    settings.API = {**settings.API, "MAX_BODY_BYTES": 1024}
    body["shipping_address"]["line2"] = "x" * 2000
    response = place(shop, body)
    assert response.status_code == 400
    assert response.json() == {
        "code": "body_too_large",
        "detail": "The request body is larger than 1024 bytes.",
    }
    assert not Order.objects.exists()


def test_a_form_body_is_415(shop, catalogue):
    response = post_raw(
        shop,
        "/api/orders/",
        "email=a@b.c",
        content_type="application/x-www-form-urlencoded",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 415 and response.json()["code"] == "unsupported_media_type"


def test_no_warehouse_is_a_clear_400(shop, body, catalogue):
    """A domain refusal from order_place (InvalidOrder) is a 400 with its message, not a 500."""
    from fulfillment.models import Stock, Warehouse

    Stock.objects.all().delete()
    Warehouse.objects.all().delete()
    assert errors_of(place(shop, body)) == {"non_field_errors": ["No warehouse is set up."]}
