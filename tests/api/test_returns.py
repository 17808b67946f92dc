"""The returns API: request a return of a completed order (once per Idempotency-Key), read it
and its steps in plain words, list an order's returns, cancel one; bad requests are a clear 400
or 409 that creates nothing."""

import copy
import json
from datetime import timedelta

import pytest

from fulfillment.api.webhooks import signature_make
from fulfillment.models import Order, Return
from processes import clock
from tests.api.conftest import ORDER_BODY, client_for, place
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger
from tests.return_factories import drive_return

pytestmark = ENGINE_DB


@pytest.fixture
def shop(catalogue):
    return client_for("shop")


@pytest.fixture
def order(shop):
    with clock.frozen():
        yield drive(Order.objects.get(pk=place(shop, copy.deepcopy(ORDER_BODY)).json()["id"]))


def line_id(order, sku) -> int:
    return order.lines.get(sku=sku).pk


def ask(shop, order, body, key="ret-1"):
    return shop.post(f"/api/orders/{order.pk}/returns/", body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def mug_body(order, quantity=1):
    return {"reason": "Too small", "lines": [{"line": line_id(order, "MUG-001"), "quantity": quantity}]}


def test_a_requested_return_runs_to_its_refund_and_reads_in_plain_words(shop, order):
    response = ask(shop, order, mug_body(order))

    assert response.status_code == 201, response.json()
    data = response.json()
    ret = Return.objects.get()
    assert data["id"] == str(ret.pk) and data["order"] == str(order.pk)
    assert data["status"] == "requested" and data["amount"] == "12.50" and data["refunded"] is None
    assert data["lines"] == [
        {
            "line": line_id(order, "MUG-001"),
            "sku": "MUG-001",
            "quantity": 1,
            "verdict": "pending",
            "reject_reason": "",
        }
    ]
    assert response["Location"] == data["url"] == f"http://testserver/api/returns/{ret.pk}/"

    drive_return(ret)
    data = shop.get(f"/api/returns/{ret.pk}/").json()
    assert data["status"] == "completed" and data["refunded"] == "12.50"
    assert [step["name"] for step in data["steps"]] == [
        "approve",
        "create_return_label",
        "await_parcel",
        "inspect",
        "refund_return",
        "restock_return",
        "send_return_confirmation",
    ]
    assert {step["status"] for step in data["steps"]} == {"succeeded"}
    assert [event["reason"] for event in data["events"]][:3] == [
        "Return requested.",
        "Return approved.",
        "Return label created.",
    ]
    assert data["events"][-1]["reason"] == "Confirmation sent; the return is complete."
    assert payment_ledger(order)["refunded"] == ret.refund.amount == 12.50


def test_the_same_key_replays_the_return_and_another_body_is_refused(shop, order):
    first = ask(shop, order, mug_body(order))
    again = ask(shop, order, mug_body(order))
    other = ask(shop, order, mug_body(order, quantity=2))

    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert other.status_code == 422 and other.json()["code"] == "idempotency_key_reused"
    assert Return.objects.count() == 1


def test_an_orders_returns_are_listed_and_another_clients_are_hidden(shop, order):
    ask(shop, order, mug_body(order), key="a")
    clock.advance(timedelta(seconds=1))
    ask(
        shop,
        order,
        {"reason": "Wrong colour", "lines": [{"line": line_id(order, "TEE-042"), "quantity": 1}]},
        key="b",
    )

    listed = shop.get(f"/api/orders/{order.pk}/returns/")
    assert listed.status_code == 200
    assert [r["reason"] for r in listed.json()] == ["Wrong colour", "Too small"]
    stranger = client_for("stranger")
    assert stranger.get(f"/api/orders/{order.pk}/returns/").status_code == 404
    ret = Return.objects.first()
    assert stranger.get(f"/api/returns/{ret.pk}/").status_code == 404
    assert ask(stranger, order, mug_body(order), key="c").status_code == 404
    assert Return.objects.count() == 2


@pytest.mark.parametrize(
    ("make_body", "status", "text"),
    [
        (lambda order: mug_body(order, quantity=3), 400, "3 to return, but only 2 of the 2 shipped"),
        (
            lambda order: {"reason": "x", "lines": [{"line": 999999, "quantity": 1}]},
            400,
            "is not a line of this order",
        ),
        (lambda order: {"reason": "x", "lines": []}, 400, ""),
        (lambda order: {"lines": [{"line": line_id(order, "MUG-001"), "quantity": 1}]}, 400, ""),
        (lambda order: {"reason": "x", "lines": [{"line": "1", "quantity": 1}]}, 400, ""),
        (lambda order: [], 400, ""),
    ],
)
def test_bad_requests_are_a_400_that_creates_nothing(shop, order, make_body, status, text):
    response = ask(shop, order, make_body(order))

    assert response.status_code == status
    assert response.json()["code"] == "invalid"
    assert text in str(response.json())
    assert not Return.objects.exists()
    # the key was not used up: the corrected request goes through under it
    assert ask(shop, order, mug_body(order)).status_code == 201


def test_an_order_not_completed_is_a_409(shop):
    with clock.frozen():
        order = drive(Order.objects.get(pk=place(shop, copy.deepcopy(ORDER_BODY)).json()["id"]), pick=False)
        response = ask(shop, order, mug_body(order))

    assert response.status_code == 409 and response.json()["code"] == "return_not_allowed"
    assert "only a completed order can be returned" in response.json()["detail"]
    assert not Return.objects.exists()


def test_a_missing_key_is_a_400(shop, order):
    response = shop.post(f"/api/orders/{order.pk}/returns/", mug_body(order), format="json")
    assert response.status_code == 400 and "Idempotency-Key" in response.json()["errors"]
    assert not Return.objects.exists()


def test_cancel_voids_the_label_until_the_parcel_arrives_then_409(shop, order):
    ret = Return.objects.get(pk=ask(shop, order, mug_body(order)).json()["id"])
    drive_return(ret, parcel=False)
    response = shop.post(f"/api/returns/{ret.pk}/cancel/", {"reason": "kept it"}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "compensating"
    drive_return(ret)
    assert shop.get(f"/api/returns/{ret.pk}/").json()["status"] == "cancelled"

    later = Return.objects.get(pk=ask(shop, order, mug_body(order), key="ret-2").json()["id"])
    drive_return(later, judge=None)
    refused = shop.post(f"/api/returns/{later.pk}/cancel/", {}, format="json")
    assert refused.status_code == 409 and "can no longer be cancelled" in refused.json()["detail"]
    later.refresh_from_db()
    assert later.state == "inspecting"


CARRIER_SECRET = "whsec_carrier_test"


def carrier_event(shop_client, event: dict, secret: str = CARRIER_SECRET):
    body = json.dumps(event).encode()
    header = signature_make(body=body, secret=secret, timestamp=int(clock.now().timestamp()))
    return shop_client.post(
        "/api/webhooks/carrier/", body, content_type="application/json", HTTP_X_SIGNATURE=header
    )


def test_the_carriers_signed_parcel_event_sends_the_return_to_inspection(shop, order, settings):
    """A signed `parcel.received` moves the waiting return on, once; a bad signature changes nothing."""
    settings.CARRIER_WEBHOOK_SECRET = CARRIER_SECRET
    ret = drive_return(Return.objects.get(pk=ask(shop, order, mug_body(order)).json()["id"]), parcel=False)
    tracking = ret.labels.get().tracking_number
    event = {"id": "evt_1", "type": "parcel.received", "tracking_number": tracking}

    forged = carrier_event(shop, event, secret="not-the-secret")
    assert forged.status_code == 400 and forged.json()["code"] == "invalid_signature"
    ret.refresh_from_db()
    assert ret.state == "awaiting_parcel"

    assert carrier_event(shop, event).json() == {"status": "delivered"}
    assert carrier_event(shop, event).json() == {"status": "duplicate"}
    unknown = {**event, "tracking_number": "SP000000000000"}
    assert carrier_event(shop, unknown).json() == {"status": "ignored"}
    ret = drive_return(ret, judge=None)
    assert ret.state == "inspecting" and ret.labels.get().received_by == "carrier-webhook"
