"""A bad shipping country is reported once, in one sentence that says what to send (issue 19).

It used to be twice: the field had a two-character limit and a pattern, and DRF reports every
validator that fails, so "DEU" or "Germany" got "no more than 2 characters" and "Use the
two-letter ISO 3166 code". fulfillment.countries now is the field's one rule. The admin has no
form that takes an address (orders come only through the API), so nothing there can repeat it.
"""

import pytest

from fulfillment.errors import InvalidOrder
from fulfillment.models import Order
from fulfillment.ordering import order_place
from processes.journal import Actor
from processes.models.journal import ActorType
from tests.api.conftest import place

pytestmark = pytest.mark.django_db

NOT_A_COUNTRY = "Not an ISO 3166-1 alpha-2 country code"


@pytest.mark.parametrize("country", ["XX", "DEU", "Germany", "de", "D"])
def test_the_api_names_a_bad_country_once(shop, body, catalogue, country):
    body["shipping_address"]["country"] = country

    response = place(shop, body)

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert list(errors) == ["shipping_address"] and list(errors["shipping_address"]) == ["country"]
    assert len(errors["shipping_address"]["country"]) == 1
    text = response.content.decode()
    assert text.count("ISO 3166") + text.count("upper case") == 1, text
    assert not Order.objects.exists()


def test_order_place_names_a_bad_country_once(catalogue):
    address = {"name": "Ada", "line1": "1 Road", "city": "Berlin", "postal_code": "10115", "country": "XX"}

    with pytest.raises(InvalidOrder) as refused:
        order_place(
            email="ada@example.com",
            payment_token="tok_ok",
            shipping_address=address,
            lines=[],
            actor=Actor(ActorType.CLIENT, "test"),
        )

    assert str(refused.value).count(NOT_A_COUNTRY) == 1


def test_the_admin_has_no_form_that_takes_an_address(admin_client):
    """Orders are read-only in the admin: its add page is refused, its change page edits nothing."""
    assert admin_client.get("/admin/fulfillment/order/add/").status_code == 403
