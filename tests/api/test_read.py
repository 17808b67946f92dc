"""A client reads its own orders only: a list (newest first, paginated, by status) and one order."""

import uuid
from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from fulfillment.models import Order
from processes import clock
from tests.api.conftest import place

pytestmark = pytest.mark.django_db


def place_many(api, body, count: int, prefix="k") -> list[str]:
    ids = []
    with clock.frozen():
        for index in range(count):
            ids.append(place(api, body, key=f"{prefix}{index}").json()["id"])
            clock.advance(timedelta(seconds=1))
    return ids


def test_list_shows_own_orders_newest_first(shop, other_shop, body, catalogue):
    mine = place_many(shop, body, 3)
    place_many(other_shop, body, 2)

    response = shop.get("/api/orders/")
    assert response.status_code == 200
    data = response.json()
    assert data["count"] == 3
    assert [order["id"] for order in data["results"]] == list(reversed(mine))


def test_list_is_paginated(shop, body, catalogue):
    ids = place_many(shop, body, 5)
    first = shop.get("/api/orders/?page_size=2").json()
    assert first["count"] == 5 and len(first["results"]) == 2 and first["previous"] is None
    last = shop.get(first["next"].replace("http://testserver", "")).json()
    assert [order["id"] for order in last["results"]] == [ids[2], ids[1]]
    assert shop.get("/api/orders/?page=3&page_size=2").json()["results"][0]["id"] == ids[0]


@pytest.mark.parametrize(
    ("query", "upper"),
    [("page=0", 999_999_999), ("page=abc", 999_999_999), ("page_size=-1", 100), ("page_size=101", 100)],
)
def test_bad_page_parameters_are_400(shop, catalogue, query, upper):
    response = shop.get(f"/api/orders/?{query}")
    assert response.status_code == 400
    assert response.json()["errors"] == {query.split("=")[0]: [f"Must be a whole number from 1 to {upper}."]}


def test_a_page_past_the_end_is_404(shop, body, catalogue):
    place_many(shop, body, 1)
    response = shop.get("/api/orders/?page=9")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_list_filters_by_status(shop, body, catalogue):
    ids = place_many(shop, body, 2)
    Order.objects.filter(pk=ids[0]).update(state="cancelled")
    assert [o["id"] for o in shop.get("/api/orders/?status=cancelled").json()["results"]] == [ids[0]]
    assert [o["id"] for o in shop.get("/api/orders/?status=received").json()["results"]] == [ids[1]]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("shipped", "Select a valid choice. shipped is not one of the available choices."),
        ("", "Give one of the order states, e.g. completed."),
    ],
)
def test_an_unknown_status_is_400(shop, catalogue, status, message):
    response = shop.get(f"/api/orders/?status={status}")
    assert response.status_code == 400
    assert response.json()["errors"] == {"status": [message]}


def test_detail_of_own_order(shop, body, catalogue):
    order_id = place(shop, body).json()["id"]
    response = shop.get(f"/api/orders/{order_id}/")
    assert response.status_code == 200 and response.json()["id"] == order_id


def test_another_clients_order_is_404(shop, other_shop, body, catalogue):
    """Someone else's order looks exactly like one that does not exist."""
    order_id = place(shop, body).json()["id"]
    for path in (f"/api/orders/{order_id}/", f"/api/orders/{order_id}/events/"):
        theirs, missing = other_shop.get(path), other_shop.get(f"/api/orders/{uuid.uuid4()}/")
        assert theirs.status_code == missing.status_code == 404
        assert (
            theirs.json()
            == missing.json()
            == {"code": "not_found", "detail": "No Order matches the given query."}
        )
    assert other_shop.post(f"/api/orders/{order_id}/cancel/").status_code == 404


@pytest.mark.parametrize("path", ["/api/orders/not-a-uuid/", "/api/nothing-here/", "/api/orders"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_unknown_paths_under_api_are_json_404(path, method):
    """Whatever the method: a POST to a wrong path is a JSON 404 too, not an HTML CSRF page."""
    response = getattr(APIClient(enforce_csrf_checks=True), method)(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/api/orders/"), ("put", "/api/orders/{id}/"), ("get", "/api/orders/{id}/cancel/")],
)
def test_other_methods_are_405(shop, body, catalogue, method, path):
    order_id = place(shop, body).json()["id"]
    response = getattr(shop, method)(path.format(id=order_id))
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed" and "Allow" in response


def test_list_needs_a_fixed_number_of_queries(shop, body, catalogue, django_assert_max_num_queries):
    """Lines, labels and the journal of a page are fetched per page, never per order.

    13 = token 1 + throttle count in the database cache 6 + count, orders, lines, labels,
    step attempts, transitions.
    """
    place_many(shop, body, 2)
    with django_assert_max_num_queries(13):
        assert len(shop.get("/api/orders/").json()["results"]) == 2
    place_many(shop, body, 20, prefix="more")
    with django_assert_max_num_queries(13):
        assert len(shop.get("/api/orders/").json()["results"]) == 20


def test_unauthenticated_reads_are_401():
    assert APIClient().get(f"/api/orders/{uuid.uuid4()}/").status_code == 401
