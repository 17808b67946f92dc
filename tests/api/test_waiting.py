"""A client reads on each order why it waits and when the next thing happens (`waiting`), in
words for a client: no operator names, no internal error text; null once it is finished."""

from datetime import datetime, timedelta
from itertools import count

import pytest
from django.contrib.auth.models import User

from fulfillment.models import Order, PickTask
from fulfillment.picking.tasks import pick_task_claim
from fulfillment.simulators.faults import fault_add
from processes import clock
from processes.models.process import Hold
from tests.api.conftest import place
from tests.circuit_scenarios import carrier_down, open_circuit
from tests.conftest import ENGINE_DB
from tests.factories import drive, run_due

# Times in sentences are read in the morning (tests/conftest.py `morning`).
pytestmark = [ENGINE_DB, pytest.mark.usefixtures("morning")]


def waiting_of(api, order_id) -> dict | None:
    response = api.get(f"/api/orders/{order_id}/")
    assert response.status_code == 200
    return response.json()["waiting"]


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_orders_held_by_the_carriers_circuit_say_so_and_when_it_is_tried_again(shop, body, catalogue):
    keys = (f"k{n}" for n in count())

    def through_the_api() -> Order:
        return Order.objects.get(pk=place(shop, body, key=next(keys)).json()["id"])

    carrier_down()
    circuit = open_circuit("create_label", then=1, place=through_the_api)
    # The order whose failure opened it, and the one placed afterwards.
    held = Order.objects.filter(held_by=Hold.CIRCUIT)
    assert held.count() == 2

    listed = {order["id"]: order["waiting"] for order in shop.get("/api/orders/").json()["results"]}

    for order in held:
        waiting = listed[str(order.pk)]
        assert waiting == waiting_of(shop, order.pk)
        assert waiting["reason"] == (
            f"Waiting: the carrier is unavailable since {circuit.incident_since:%H:%M:%S} UTC; "
            f"we try it again at {circuit.probe_at:%H:%M:%S} UTC. Nothing is lost."
        )
        assert waiting["next_at"] == iso(circuit.probe_at)


def test_a_retry_after_a_failure_is_told_without_the_internal_error(shop, body, catalogue):
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=1)
    with clock.frozen(clock.now()):
        order_id = place(shop, body).json()["id"]
        run_due(Order.objects.get(pk=order_id))
        order = Order.objects.get(pk=order_id)
        assert order.attempts == 1 and "ServiceUnavailable" in order.last_error

        waiting = waiting_of(shop, order_id)

    assert waiting == {
        "reason": "Retrying create label after a temporary failure (attempt 1 of 6); "
        f"the next attempt is at {order.next_run_at:%H:%M:%S} UTC.",
        "next_at": iso(order.next_run_at),
    }


def test_a_pick_names_no_worker_and_gives_its_deadline(shop, body, catalogue):
    with clock.frozen(clock.now()):
        order = drive(Order.objects.get(pk=place(shop, body).json()["id"]), pick=False)
        worker = User.objects.create_user("wendy")
        pick_task_claim(task_id=PickTask.objects.get(order=order).pk, worker=worker)

        waiting = waiting_of(shop, order.pk)

    assert waiting == {
        "reason": f"Waiting for the warehouse to pick the order; it must be done by "
        f"{order.deadline_at:%H:%M:%S} UTC.",
        "next_at": iso(order.deadline_at),
    }


def test_an_order_that_needs_a_person_says_so_without_the_operators_reason(shop, body, catalogue):
    fault_add(service="mail", operation="send", mode="unavailable", times=8)
    with clock.frozen(clock.now() + timedelta(minutes=5)):
        order = drive(Order.objects.get(pk=place(shop, body).json()["id"]))
        assert order.needs_attention

        waiting = waiting_of(shop, order.pk)

    assert waiting == {
        "reason": f"Held for a person on our side to look at, since {order.attention_since:%H:%M:%S} UTC; "
        "nothing happens until they act.",
        "next_at": None,
    }


def test_a_just_placed_order_is_queued_and_a_finished_one_waits_for_nothing(shop, body, catalogue):
    with clock.frozen(clock.now()):
        placed = place(shop, body).json()
        assert placed["waiting"] == {
            "reason": "Queued: charge payment starts as soon as a worker is free.",
            "next_at": placed["created_at"],
        }
        drive(Order.objects.get(pk=placed["id"]))

        assert waiting_of(shop, placed["id"]) is None
