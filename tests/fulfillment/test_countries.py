"""Shipping countries are the ISO 3166-1 alpha-2 codes pycountry lists, in upper case; every
address our own tools and test factories place orders with uses one."""

import pytest

from fulfillment.countries import NotACountry, country_code_check, country_codes
from fulfillment.proving import benchmarks, generation, soak
from fulfillment.proving.management.commands import place_demo_orders
from tests import factories


def test_the_list_is_iso_3166_1():
    codes = country_codes()
    assert len(codes) >= 249 and list(codes) == sorted(set(codes))
    assert {"DE", "GB", "SS", "AQ"} <= set(codes)
    assert not {"XX", "UK", "EU", "XK"} & set(codes)


@pytest.mark.parametrize("code", ["DE", "GB", "SS"])
def test_a_listed_code_is_returned_as_is(code):
    assert country_code_check(code) == code


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("de", "Country codes are upper case: send DE."),
        ("Gb", "Country codes are upper case: send GB."),
        ("XX", "Not an ISO 3166-1 alpha-2 country code"),
        ("ß", "Not an ISO 3166-1 alpha-2 country code"),  # upper-cases to SS, South Sudan
        ("DEU", "Not an ISO 3166-1 alpha-2 country code"),
        (None, "Not an ISO 3166-1 alpha-2 country code"),
    ],
)
def test_anything_else_is_refused_saying_what_to_send(value, message):
    with pytest.raises(NotACountry, match=message):
        country_code_check(value)


@pytest.mark.parametrize(
    "address",
    [generation.ADDRESS, soak.ADDRESS, benchmarks.ADDRESS, place_demo_orders.ADDRESS, factories.ADDRESS],
    ids=["generation", "soak", "benchmarks", "place_demo_orders", "factories"],
)
def test_our_tools_ship_to_listed_countries(address):
    assert country_code_check(address["country"]) == address["country"]
