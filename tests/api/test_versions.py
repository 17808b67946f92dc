"""A client sees the steps of the workflow version its order runs on."""

from fulfillment.models import Order
from processes import clock
from processes.models.rollout import RolloutSetting
from tests.api.conftest import ORDER_BODY, client_for, place
from tests.conftest import ENGINE_DB
from tests.factories import drive

pytestmark = ENGINE_DB


def place_as(shop, key: str) -> Order:
    return Order.objects.get(pk=place(shop, ORDER_BODY, key=key).json()["id"])


def test_a_v2_order_shows_its_fraud_check_and_a_v1_order_does_not(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        v1 = drive(place_as(shop, "k1"))
        RolloutSetting.objects.create(workflow="fulfillment.order", percent=100)
        v2 = drive(place_as(shop, "k2"))
    steps_v1 = [s["name"] for s in shop.get(f"/api/orders/{v1.pk}/").json()["steps"]]
    data = shop.get(f"/api/orders/{v2.pk}/").json()
    assert steps_v1 == ["charge_payment", "reserve_inventory", "create_label", "pick", "send_confirmation"]
    assert [s["name"] for s in data["steps"]] == ["fraud_check", *steps_v1]
    assert {s["status"] for s in data["steps"]} == {"succeeded"}
    events = shop.get(f"/api/orders/{v2.pk}/events/").json()
    assert [(e["to_status"], e["reason"]) for e in events][:2] == [
        ("received", "Order received."),
        ("fraud_cleared", "Fraud check passed."),
    ]
