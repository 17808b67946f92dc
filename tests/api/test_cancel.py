"""POST /api/orders/<id>/cancel/: 202 while it can be undone, 409 once picked, harmless twice."""

import copy
from datetime import timedelta

import pytest

from fulfillment.models import Order
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.picker import simulated_picker_run
from processes import clock
from processes.models.journal import ProcessEvent
from processes.models.rollout import RolloutSetting
from tests.api.conftest import ORDER_BODY, client_for, place
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, run_due


def place_order(shop) -> Order:
    return Order.objects.get(pk=place(shop, copy.deepcopy(ORDER_BODY)).json()["id"])


def cancel(shop, order, **body):
    return shop.post(f"/api/orders/{order.pk}/cancel/", body or None, format="json")


@ENGINE_DB
def test_cancel_while_awaiting_pick_undoes_everything(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_order(shop), pick=False)
        assert order.state == "awaiting_pick"
        response = cancel(shop, order, reason="customer changed their mind")
        assert response.status_code == 202
        assert response.json()["status"] == "compensating"
        order = drive(order)

    data = shop.get(f"/api/orders/{order.pk}/").json()
    assert data["status"] == "cancelled" and data["tracking_number"] is None
    assert [step["status"] for step in data["steps"]] == ["undone", "undone", "undone", "undone", "skipped"]
    assert payment_ledger(order)["refunded"] == order.total
    reasons = [event["reason"] for event in shop.get(f"/api/orders/{order.pk}/events/").json()]
    assert "Cancellation requested by you: customer changed their mind" in reasons
    assert reasons[-1] == "Cancelled: every completed step was undone."


@ENGINE_DB
def test_cancelling_twice_is_harmless(catalogue):
    """A repeated cancel answers 202 again and changes nothing more; so does one after it is done."""
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_order(shop), pick=False)
        assert cancel(shop, order).status_code == 202
        journal = ProcessEvent.objects.filter(process_id=order.pk).count()
        again = cancel(shop, order)
        assert again.status_code == 202 and again.json()["status"] == "compensating"
        assert ProcessEvent.objects.filter(process_id=order.pk).count() == journal
        order = drive(order)
    after = cancel(shop, order)
    assert after.status_code == 202 and after.json()["status"] == "cancelled"


@ENGINE_DB
def test_a_new_order_is_cancelled_before_anything_is_charged(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = place_order(shop)
        assert cancel(shop, order).status_code == 202
        order = drive(order)
    assert order.state == "cancelled" and payment_ledger(order)["charges"] == 0


@ENGINE_DB
def test_a_picked_order_can_no_longer_be_cancelled(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_order(shop), pick=False)
        simulated_picker_run(delay=0)
        order.refresh_from_db()
        assert order.state == "picked"
        response = cancel(shop, order)
        assert response.status_code == 409
        assert response.json() == {
            "code": "not_cancellable",
            "detail": "The order can no longer be cancelled: its items have been picked.",
        }
        order = drive(order)
    response = cancel(shop, order)
    assert response.status_code == 409 and "completed" in response.json()["detail"]
    assert order.state == "completed"


@pytest.mark.django_db
def test_a_running_step_makes_cancel_answer_409_busy(catalogue, settings):
    """A step mid-call holds the order: the cancel waits briefly, then says to try again."""
    settings.API = {**settings.API, "CANCEL_WAIT_SECONDS": 0.2}
    shop = client_for("shop")
    order = place_order(shop)
    Order.objects.filter(pk=order.pk).update(
        lease_owner="worker-1", lease_until=clock.now() + timedelta(minutes=1)
    )

    response = cancel(shop, order)
    assert response.status_code == 409
    assert response.json()["code"] == "order_busy" and response["Retry-After"] == "1"
    order.refresh_from_db()
    assert order.state == "received" and order.direction == "forward"


@pytest.mark.django_db
def test_cancel_reason_must_be_text(catalogue):
    shop = client_for("shop")
    order = place_order(shop)
    response = cancel(shop, order, reason=["no"])
    assert response.status_code == 400 and response.json()["errors"] == {"reason": ["Not a valid string."]}
    order.refresh_from_db()
    assert order.state == "received"


@pytest.mark.django_db
def test_cancel_reason_is_measured_as_sent(catalogue):
    """501 characters are too many, even when the first is whitespace the field would trim."""
    shop = client_for("shop")
    order = place_order(shop)
    response = cancel(shop, order, reason="\r" + "*" * 500)
    assert response.status_code == 400
    assert response.json()["errors"] == {"reason": ["Ensure this field has no more than 500 characters."]}
    order.refresh_from_db()
    assert order.state == "received"


@ENGINE_DB
def test_a_fraud_cleared_v2_order_is_cancelled_without_a_charge(catalogue):
    """Between the fraud check and the charge (workflow v2) the client may still cancel."""
    RolloutSetting.objects.create(workflow="fulfillment.order", percent=100)
    fault_add(service="payment", operation="charge", mode="unavailable", times=1)
    shop = client_for("shop")
    with clock.frozen():
        order = place_order(shop)
        run_due(order)
        order.refresh_from_db()
        assert (order.workflow_version, order.state) == (2, "fraud_cleared")
        assert cancel(shop, order).status_code == 202
        order = drive(order)
    assert order.state == "cancelled" and payment_ledger(order)["charges"] == 0
