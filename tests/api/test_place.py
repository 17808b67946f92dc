"""POST /api/orders/ places an order and answers 201 with its representation."""

import wsgiref.headers
from decimal import Decimal

import pytest

from fulfillment.models import Order
from processes.models.journal import ActorType, ProcessEvent
from tests.api.conftest import place

pytestmark = pytest.mark.django_db

ORDER_KEYS = {
    "id",
    "status",
    "needs_attention",
    "email",
    "shipping_address",
    "lines",
    "total",
    "currency",
    "tracking_number",
    "steps",
    "waiting",
    "created_at",
    "updated_at",
    "url",
}


def test_place_answers_201_with_the_order(shop, body, catalogue):
    response = place(shop, body)

    assert response.status_code == 201
    data = response.json()
    assert set(data) == ORDER_KEYS
    order = Order.objects.get()
    assert data["id"] == str(order.pk)
    assert data["status"] == "received" and data["needs_attention"] is False
    assert data["email"] == "ada@example.com" and data["shipping_address"] == body["shipping_address"]
    mug, tee = order.lines.order_by("id")
    assert data["lines"] == [
        {"id": mug.pk, "sku": "MUG-001", "quantity": 2, "unit_price": "12.50"},
        {"id": tee.pk, "sku": "TEE-042", "quantity": 1, "unit_price": "24.00"},
    ]
    assert (data["total"], data["currency"]) == ("49.00", "EUR")
    assert data["tracking_number"] is None
    assert data["waiting"]["reason"] == "Queued: charge payment starts as soon as a worker is free."
    assert data["url"] == f"http://testserver/api/orders/{order.pk}/"
    assert response["Location"] == data["url"]
    wsgiref.headers.Headers(list(response.items()))  # every header a plain str, as WSGI servers demand
    assert "Idempotent-Replayed" not in response
    assert order.total == Decimal("49.00") and order.owner.username == "shop"


def test_steps_come_from_the_workflow(shop, body, catalogue):
    """Every step of the workflow is listed, in order; a new order is at its first."""
    steps = place(shop, body).json()["steps"]
    assert [step["name"] for step in steps] == [
        "charge_payment",
        "reserve_inventory",
        "create_label",
        "pick",
        "send_confirmation",
    ]
    assert steps[0] == {
        "name": "charge_payment",
        "status": "in_progress",
        "attempts": 0,
        "last_error": None,
        "finished_at": None,
    }
    assert {step["status"] for step in steps[1:]} == {"pending"}


def test_the_client_is_journalled_as_the_actor(shop, body, catalogue):
    order_id = place(shop, body).json()["id"]
    created = ProcessEvent.objects.get(process_id=order_id, transition="create")
    assert (created.actor_type, created.actor) == (ActorType.CLIENT, "shop")


def test_missing_idempotency_key_is_400(shop, body, catalogue):
    response = shop.post("/api/orders/", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"]["Idempotency-Key"] == [
        "This header is required: a unique string per order, the same when retrying it."
    ]
    assert not Order.objects.exists()


@pytest.mark.parametrize("key", ["", "x" * 256, "with space", "ключ"])
def test_malformed_idempotency_key_is_400(shop, body, catalogue, key):
    response = place(shop, body, key=key)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Order.objects.exists()


def test_line2_is_optional(shop, body, catalogue):
    del body["shipping_address"]["line2"]
    response = place(shop, body)
    assert response.status_code == 201
    assert response.json()["shipping_address"]["line2"] == ""
