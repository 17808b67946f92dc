"""PATCH /api/orders/<id>/: a client changes its order's shipping address until it is picked,
once per Idempotency-Key; a bad address is a 400 naming the field and changes nothing."""

import copy

from fulfillment.models import Order
from fulfillment.simulators.carrier import labels
from fulfillment.simulators.models import LabelRecord
from fulfillment.simulators.picker import simulated_picker_run
from processes import clock
from processes.models.journal import ProcessEvent
from tests.api.conftest import ORDER_BODY, client_for, place
from tests.conftest import ENGINE_DB
from tests.factories import ADDRESS, drive

NEW_ADDRESS = {**ADDRESS, "line1": "3 New Street", "postal_code": "N2 8BB"}


def place_order(shop) -> Order:
    return Order.objects.get(pk=place(shop, copy.deepcopy(ORDER_BODY)).json()["id"])


def patch(shop, order, address=NEW_ADDRESS, key="change-1", **extra):
    body = {"shipping_address": address}
    return shop.patch(f"/api/orders/{order.pk}/", body, format="json", HTTP_IDEMPOTENCY_KEY=key, **extra)


def changes(order) -> int:
    return ProcessEvent.objects.filter(process_id=order.pk, transition="change_address").count()


@ENGINE_DB
def test_after_the_label_a_new_label_is_made_and_the_client_reads_it(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_order(shop), pick=False)
        response = patch(shop, order)
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "label_created"
        steps = {step["name"]: step["status"] for step in response.json()["steps"]}
        assert (steps["create_label"], steps["pick"]) == ("in_progress", "pending")
        order = drive(order)

    assert order.state == "completed" and order.shipping_address["line1"] == "3 New Street"
    assert labels(str(order.pk)) == {"live": 1, "voided": 1}
    old, new = LabelRecord.objects.filter(reference=str(order.pk)).order_by("id")
    assert new.idempotency_key != old.idempotency_key and new.address["line1"] == "3 New Street"
    reasons = [event["reason"] for event in shop.get(f"/api/orders/{order.pk}/events/").json()]
    assert "Shipping address changed." in reasons
    assert "Shipping label voided, to be made again." in reasons
    assert all("Analytical" not in reason for reason in reasons)  # words for the client, not the journal


@ENGINE_DB
def test_a_retry_with_the_same_key_replays_and_changes_once(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_order(shop), pick=False)
        first = patch(shop, order)
        again = patch(shop, order)
    assert (first.status_code, again.status_code) == (200, 200)
    assert "Idempotent-Replayed" not in first and again["Idempotent-Replayed"] == "true"
    assert changes(order) == 1
    order.refresh_from_db()
    assert order.redo_counts == {} and order.direction == "redo"


@ENGINE_DB
def test_the_same_key_with_another_address_is_422_and_changes_nothing(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_order(shop), pick=False)
        assert patch(shop, order).status_code == 200
        response = patch(shop, order, {**NEW_ADDRESS, "city": "Leeds"})
    assert response.status_code == 422 and response.json()["code"] == "idempotency_key_reused"
    order.refresh_from_db()
    assert order.shipping_address["city"] == "London" and changes(order) == 1


@ENGINE_DB
def test_an_invalid_address_is_400_naming_the_field_and_changes_nothing(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_order(shop), pick=False)
        missing = patch(shop, order, {k: v for k, v in NEW_ADDRESS.items() if k != "postal_code"})
        country = patch(shop, order, {**NEW_ADDRESS, "country": "XX"}, key="change-2")
        no_key = shop.patch(f"/api/orders/{order.pk}/", {"shipping_address": NEW_ADDRESS}, format="json")
    assert missing.status_code == 400 and "postal_code" in missing.json()["errors"]["shipping_address"]
    assert country.status_code == 400 and "country" in country.json()["errors"]["shipping_address"]
    assert no_key.status_code == 400 and "Idempotency-Key" in no_key.json()["errors"]
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS and order.state == "awaiting_pick" and changes(order) == 0
    # A key whose request was refused is not used up: the corrected request goes through.
    assert patch(shop, order, key="change-2").status_code == 200


@ENGINE_DB
def test_once_picked_it_is_409_with_the_reason(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_order(shop), pick=False)
        simulated_picker_run(delay=0)
        response = patch(shop, order)
    assert response.status_code == 409
    assert response.json() == {
        "code": "address_not_changeable",
        "detail": "The shipping address can no longer be changed: its items have been picked.",
    }
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS and changes(order) == 0


@ENGINE_DB
def test_another_clients_order_is_404(catalogue):
    shop, other = client_for("shop"), client_for("other-shop")
    with clock.frozen():
        order = place_order(shop)
        response = patch(other, order)
    assert response.status_code == 404
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS


@ENGINE_DB
def test_the_schema_documents_the_patch(catalogue):
    shop = client_for("shop")
    schema = shop.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/orders/{id}/"]["patch"]
    assert operation["operationId"] == "orders_change_address"
    assert {"200", "400", "409", "422"} <= set(operation["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in operation["parameters"])
