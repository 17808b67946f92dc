"""Redoing a step races the warehouse through the order's row lock: whichever takes it first
wins, the other is refused with the reason. And the engine refuses a redo it cannot do safely."""

import threading
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction

from fulfillment.address_change import order_address_change
from fulfillment.errors import AddressNotChangeable, PickTaskClosed
from fulfillment.models import Order, OrderState, PickTask
from fulfillment.picking.tasks import pick_task_claim
from processes import clock
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.redo import process_redo_step
from tests.conftest import ENGINE_DB
from tests.factories import ADDRESS, drive, place_order

pytestmark = ENGINE_DB
NEW = {**ADDRESS, "line1": "3 New Street"}
OPERATOR = Actor("operator", "olga")


def in_thread(target) -> dict:
    """Run `target` on its own database connection; returns {"result"} or {"error"}."""
    outcome = {}

    def run():
        try:
            outcome["result"] = target()
        except Exception as error:  # handed back to the test
            outcome["error"] = error
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return outcome, thread


def test_a_claim_holding_the_order_wins_and_the_change_waiting_on_it_is_refused(catalogue):
    worker = get_user_model().objects.create_user("pia")
    with clock.frozen():
        order = drive(place_order(), pick=False)
        task = PickTask.objects.get(order=order)
        with transaction.atomic():
            pick_task_claim(task_id=task.pk, worker=worker)  # holds the order's row lock until commit
            outcome, thread = in_thread(
                lambda: order_address_change(order_id=order.pk, address=NEW, actor=OPERATOR, reason="moved")
            )
            thread.join(timeout=1)
            assert thread.is_alive()  # the change waits for the claim's lock
        thread.join(timeout=10)
    assert isinstance(outcome.get("error"), AddressNotChangeable)
    assert "pia claimed its pick task" in str(outcome["error"])
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS and order.state == OrderState.AWAITING_PICK


def test_a_change_holding_the_order_wins_and_the_claim_waiting_on_it_is_refused(catalogue):
    worker = get_user_model().objects.create_user("pia")
    with clock.frozen():
        order = drive(place_order(), pick=False)
        task = PickTask.objects.get(order=order)
        with transaction.atomic():
            order_address_change(order_id=order.pk, address=NEW, actor=OPERATOR, reason="moved")
            outcome, thread = in_thread(lambda: pick_task_claim(task_id=task.pk, worker=worker))
            thread.join(timeout=1)
            assert thread.is_alive()  # the claim waits for the change's lock
        thread.join(timeout=10)
    assert isinstance(outcome.get("error"), PickTaskClosed)
    task.refresh_from_db()
    assert task.status == PickTask.Status.CANCELLED and task.assignee is None


def redo(order, step="create_label"):
    return process_redo_step(model=Order, process_id=order.pk, step=step, actor=OPERATOR, reason="test")


def test_the_engine_refuses_what_it_cannot_redo_safely(catalogue):
    with clock.frozen():
        completed = drive(place_order(email="b@example.com"))
        with pytest.raises(ProcessStateError, match="it is finished"):
            redo(completed)
        waiting = drive(place_order(), pick=False)
        with pytest.raises(ProcessStateError, match="does not let charge_payment be redone"):
            redo(waiting, "charge_payment")
        with pytest.raises(ProcessStateError, match="no step 'nope'"):
            redo(waiting, "nope")
        Order.objects.filter(pk=waiting.pk).update(
            lease_owner="w", lease_until=clock.now() + timedelta(seconds=5)
        )
        with pytest.raises(ProcessStateError, match="running right now"):
            redo(waiting)
    waiting.refresh_from_db()
    assert waiting.direction == "forward" and waiting.state == OrderState.AWAITING_PICK
