"""Return requests racing for the same units, through the API on real connections: the order's
row lock serialises them, so exactly as many win as there are units, the others are a clear 400
that creates nothing, and no order ever has more units in returns than it shipped.

Each request runs in its own thread with its own connection and commits (tests/select_for_update
in Django is the model): the test holds the order's row lock on a third connection until every
request is waiting for it, then lets them all go at once.
"""

import copy
import threading
import time

from django.db import connection, transaction
from django.db.models import Sum
from rest_framework.test import APIClient

from fulfillment.api.clients import api_client_create
from fulfillment.models import Order, Return, ReturnLine
from processes import clock
from tests.api.conftest import ORDER_BODY, place
from tests.conftest import ENGINE_DB
from tests.factories import drive

pytestmark = ENGINE_DB


def completed_order(token: str) -> Order:
    with clock.frozen():
        placed = place(shop_client(token), copy.deepcopy(ORDER_BODY))
        return drive(Order.objects.get(pk=placed.json()["id"]))


def shop_client(token: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def requests_waiting_for_a_lock() -> int:
    """Sessions of the test database waiting for a lock, read afresh (a transaction otherwise
    keeps seeing its first snapshot of the statistics)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def race(token: str, order: Order, bodies: list[dict]) -> list:
    """Send every body at once, each under its own key, while the order's row is locked; let
    them go together once all wait for the lock. Returns the responses in the bodies' order."""
    responses: list = [None] * len(bodies)

    def request(index: int, body: dict):
        try:
            responses[index] = shop_client(token).post(
                f"/api/orders/{order.pk}/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY=f"race-{index}"
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(i, body)) for i, body in enumerate(bodies)]
    with transaction.atomic():
        Order.objects.select_for_update().get(pk=order.pk)
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while requests_waiting_for_a_lock() < len(bodies):
            assert time.monotonic() < deadline, "the requests never all waited for the order's lock"
            time.sleep(0.05)
    for thread in threads:
        thread.join(timeout=30)
    return responses


def mug_body(order: Order, quantity: int) -> dict:
    line = order.lines.get(sku="MUG-001")
    return {"reason": "Racing", "lines": [{"line": line.pk, "quantity": quantity}]}


def units_in_returns(order: Order) -> int:
    return ReturnLine.objects.filter(ret__order=order).aggregate(units=Sum("quantity"))["units"] or 0


def test_two_requests_for_every_unit_at_once_make_one_return(catalogue):
    """Both ask for the order's two mugs: one is a 201, the other a 400 saying none are left."""
    token, _ = api_client_create(name="shop")
    order = completed_order(token)

    responses = race(token, order, [mug_body(order, 2), mug_body(order, 2)])

    assert sorted(response.status_code for response in responses) == [201, 400]
    refused = next(response for response in responses if response.status_code == 400).json()
    assert refused["code"] == "invalid"
    assert "2 to return, but only 0 of the 2 shipped are not already returned" in str(refused)
    won = next(response for response in responses if response.status_code == 201).json()
    assert [str(pk) for pk in Return.objects.values_list("pk", flat=True)] == [won["id"]]
    assert units_in_returns(order) == 2


def test_three_requests_for_one_unit_each_of_two_shipped_make_two_returns(catalogue):
    """Two mugs shipped, three single-mug requests at once: exactly two win."""
    token, _ = api_client_create(name="shop")
    order = completed_order(token)

    responses = race(token, order, [mug_body(order, 1)] * 3)

    assert sorted(response.status_code for response in responses) == [201, 201, 400]
    assert Return.objects.filter(order=order).count() == 2
    assert units_in_returns(order) == 2 == order.lines.get(sku="MUG-001").quantity
