"""Two requests with one key at the same instant place one order: the second waits, then replays.

Real connections: each thread has its own, so the unique constraint and the row lock on the
idempotency record are what serialise them (tests/select_for_update in Django is the model).
"""

import copy
import threading
import time

import pytest
from django.db import connection, transaction

from fulfillment.api import orders
from fulfillment.api.idempotency import request_fingerprint
from fulfillment.api.models import IdempotencyRecord
from fulfillment.api.orders import order_place_once
from fulfillment.api.serializers import OrderPlaceIn
from fulfillment.models import Order
from tests.api.conftest import ORDER_BODY, client_for, place

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(target, results: list):
    def run():
        try:
            results.append(target())
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_two_identical_requests_at_once_place_one_order(catalogue, monkeypatch):
    """Both answer 201 with the same order; exactly one of them says it was replayed."""
    real_place = orders.order_place

    def slow_place(**kwargs):  # hold the key a while, so the other request surely collides
        time.sleep(0.3)
        return real_place(**kwargs)

    monkeypatch.setattr(orders, "order_place", slow_place)
    shop, barrier, results = client_for("shop"), threading.Barrier(2), []

    def request():
        barrier.wait()
        return place(shop, copy.deepcopy(ORDER_BODY), key="race")

    for thread in [_in_thread(request, results) for _ in range(2)]:
        thread.join(timeout=30)

    assert [response.status_code for response in results] == [201, 201]
    assert len({response.json()["id"] for response in results}) == 1
    assert sorted(response.get("Idempotent-Replayed", "-") for response in results) == ["-", "true"]
    assert Order.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


def test_a_request_waits_for_the_transaction_that_holds_its_key(catalogue):
    """While another connection holds the key uncommitted, the request blocks; then it replays."""
    shop = client_for("shop")
    user = Order._meta.get_field("owner").related_model.objects.get(username="shop")
    serializer = OrderPlaceIn(data=copy.deepcopy(ORDER_BODY))
    serializer.is_valid(raise_exception=True)
    held, release, placed = threading.Event(), threading.Event(), []

    def hold_the_key():
        with transaction.atomic():
            order, _ = order_place_once(
                client=user,
                idempotency_key="held",
                fingerprint=request_fingerprint(ORDER_BODY),
                data=serializer.validated_data,
            )
            held.set()
            release.wait(timeout=10)
        return order

    holder = _in_thread(hold_the_key, placed)
    assert held.wait(timeout=10)
    answers = []
    waiter = _in_thread(lambda: place(shop, copy.deepcopy(ORDER_BODY), key="held"), answers)
    waiter.join(timeout=0.5)
    assert waiter.is_alive(), "the request must wait for the transaction holding its key"

    release.set()
    holder.join(timeout=10)
    waiter.join(timeout=10)
    (response,) = answers
    assert response.status_code == 201 and response["Idempotent-Replayed"] == "true"
    assert response.json()["id"] == str(placed[0].pk)
    assert Order.objects.count() == 1


def test_a_request_places_the_order_when_the_holder_rolls_back(catalogue):
    """A first attempt that fails leaves the key free: the waiting request places the order."""
    shop = client_for("shop")
    user = Order._meta.get_field("owner").related_model.objects.get(username="shop")
    serializer = OrderPlaceIn(data=copy.deepcopy(ORDER_BODY))
    serializer.is_valid(raise_exception=True)
    held, release = threading.Event(), threading.Event()

    def hold_then_fail():
        try:
            with transaction.atomic():
                order_place_once(
                    client=user,
                    idempotency_key="flaky",
                    fingerprint=request_fingerprint(ORDER_BODY),
                    data=serializer.validated_data,
                )
                held.set()
                release.wait(timeout=10)
                raise RuntimeError("the first request's worker died")
        except RuntimeError:
            return None

    holder = _in_thread(hold_then_fail, [])
    assert held.wait(timeout=10)
    answers = []
    waiter = _in_thread(lambda: place(shop, copy.deepcopy(ORDER_BODY), key="flaky"), answers)
    waiter.join(timeout=0.5)
    release.set()
    holder.join(timeout=10)
    waiter.join(timeout=10)
    (response,) = answers
    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert Order.objects.count() == 1
