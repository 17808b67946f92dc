"""A client follows its order through its steps and journal, in words meant for it."""

import copy
import json

from fulfillment.models import Order
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.picker import simulated_picker_run
from processes import clock
from processes.interventions import process_compensate
from processes.journal import Actor
from tests.api.conftest import ORDER_BODY, client_for, place
from tests.conftest import ENGINE_DB
from tests.factories import drive, run_due

pytestmark = ENGINE_DB


def place_and(shop, token="tok_ok") -> Order:
    body = {**copy.deepcopy(ORDER_BODY), "payment_token": token}
    return Order.objects.get(pk=place(shop, body).json()["id"])


def test_follow_an_order_to_completed(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_and(shop))
    data = shop.get(f"/api/orders/{order.pk}/").json()

    assert data["status"] == "completed" and data["needs_attention"] is False
    assert data["tracking_number"] == order.shipments.get().tracking_number
    assert [(step["status"], step["last_error"]) for step in data["steps"]] == [("succeeded", None)] * 5
    assert all(step["finished_at"] for step in data["steps"])
    assert [step["attempts"] for step in data["steps"]] == [1, 1, 1, 1, 1]

    events = shop.get(f"/api/orders/{order.pk}/events/").json()
    assert [event["to_status"] for event in events] == [
        "received",
        "payment_charged",
        "inventory_reserved",
        "label_created",
        "awaiting_pick",
        "picked",
        "completed",
    ]
    assert events[0] == {
        "at": events[0]["at"],
        "from_status": None,
        "to_status": "received",
        "actor": "client",
        "reason": "Order received.",
    }
    assert events[5]["actor"] == "worker" and events[5]["reason"] == "Items picked."
    assert "simulated-picker" not in json.dumps(events), "no worker names"


def test_a_waiting_pick_reads_as_waiting_and_the_pick_as_done(catalogue):
    """Opening the pick task is no pick: the step waits, and is done only once picked."""
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_and(shop), pick=False)
        waiting = shop.get(f"/api/orders/{order.pk}/").json()["steps"][3]
        events = shop.get(f"/api/orders/{order.pk}/events/").json()
        simulated_picker_run(delay=0)
    picked = shop.get(f"/api/orders/{order.pk}/").json()["steps"][3]
    after = shop.get(f"/api/orders/{order.pk}/events/").json()

    assert (waiting["name"], waiting["status"], waiting["finished_at"]) == ("pick", "waiting", None)
    assert events[-1]["to_status"] == "awaiting_pick"
    assert events[-1]["reason"] == "Waiting for the warehouse to pick the items."
    assert (picked["status"], picked["finished_at"]) == ("succeeded", after[-1]["at"])
    assert (after[-1]["to_status"], after[-1]["reason"]) == ("picked", "Items picked.")


def test_a_retrying_step_shows_its_attempts_and_a_public_error(catalogue):
    shop = client_for("shop")
    order = place_and(shop)
    fault_add(service="payment", operation="charge", mode="unavailable", times=1)
    with clock.frozen():
        run_due(order)
        retrying = shop.get(f"/api/orders/{order.pk}/").json()["steps"][0]
        order = drive(order)
    assert retrying == {
        "name": "charge_payment",
        "status": "in_progress",
        "attempts": 1,
        "last_error": "A service we depend on was unavailable.",
        "finished_at": None,
    }
    charged = shop.get(f"/api/orders/{order.pk}/").json()["steps"][0]
    assert (charged["status"], charged["attempts"], charged["last_error"]) == ("succeeded", 2, None)


def test_a_declined_order_says_why_and_what_was_never_run(catalogue):
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_and(shop, token="tok_declined"))
    data = shop.get(f"/api/orders/{order.pk}/").json()

    assert data["status"] == "cancelled"
    charge, *rest = data["steps"]
    assert (charge["status"], charge["attempts"]) == ("failed", 1)
    assert charge["last_error"] == "The payment was declined (card declined)."
    assert charge["finished_at"] is not None
    assert {step["status"] for step in rest} == {"skipped"}
    reasons = [event["reason"] for event in shop.get(f"/api/orders/{order.pk}/events/").json()]
    assert reasons == [
        "Order received.",
        "Step charge_payment failed: The payment was declined (card declined). Undoing what was done.",
        "Cancelled: every completed step was undone.",
    ]


def test_events_hide_operator_names_and_internal_text(catalogue):
    """An operator's name and note, and other services' error text, stay inside."""
    shop = client_for("shop")
    order = place_and(shop)
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=1)
    with clock.frozen():
        order = drive(order, pick=False)
        process_compensate(
            model=Order,
            process_id=order.pk,
            actor=Actor("operator", "olga"),
            reason="fraud suspected (ticket 7)",
        )
        drive(order)
    raw = (
        shop.get(f"/api/orders/{order.pk}/events/").content.decode()
        + shop.get(f"/api/orders/{order.pk}/").content.decode()
    )

    for secret in ("olga", "ticket 7", "fraud", "fault rule", "ServiceUnavailable", "carrier.create_label"):
        assert secret not in raw
    events = json.loads(shop.get(f"/api/orders/{order.pk}/events/").content)
    assert events[-2]["actor"] == "operator"
    assert events[-2]["reason"] == "Cancelled by our customer service; undoing what was done."


def test_every_transition_declares_the_words_its_client_reads():
    """The words are the transition's own (custom client_words on the model), so a new step's
    transition brings them; only the start of a compensation is told by who cancelled."""
    transitions = Order._meta.get_field("state").get_all_transitions(Order)

    assert {t.name for t in transitions if not t.custom.get("client_words")} == {"start_compensation"}


def test_the_journal_reads_a_transitions_words_from_the_transition(catalogue, monkeypatch):
    """Change a transition's declared words and the client reads the new ones."""
    by_name = {t.name: t for t in Order._meta.get_field("state").get_all_transitions(Order)}
    monkeypatch.setitem(by_name["mark_picked"].custom, "client_words", "Your items are in a box.")
    shop = client_for("shop")
    with clock.frozen():
        order = drive(place_and(shop))

    events = shop.get(f"/api/orders/{order.pk}/events/").json()

    assert "Your items are in a box." in [event["reason"] for event in events]
