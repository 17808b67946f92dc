"""A wait step is done by hand only once the order waits for its person, and refused before in
the step's own words (WaitStep.manual_before_waiting), whatever the step is called."""

import pytest
from django.contrib.auth import get_user_model

from fulfillment.interventions import order_available_actions, order_skip_step
from fulfillment.models import Order
from fulfillment.steps import WaitForPick
from processes.exceptions import ProcessStateError
from processes.models.process import RunStatus
from tests.factories import place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def olga(db):
    return get_user_model().objects.create_user(username="olga", password="pw", is_staff=True)


def at_the_pick_step_before_it_waits() -> Order:
    """An order the engine moved to the pick step and has not run it yet (no task open)."""
    order = place_order()
    Order.objects.filter(pk=order.pk).update(step=WaitForPick.name, run_status=RunStatus.READY)
    return Order.objects.get(pk=order.pk)


def test_the_button_and_the_service_refuse_in_the_wait_steps_words(catalogue, olga, monkeypatch):
    """The refusal is the step's: change its words and both the console and the service say them."""
    monkeypatch.setattr(WaitForPick, "manual_before_waiting", "nobody has been asked to pick yet")
    order = at_the_pick_step_before_it_waits()

    assert order_available_actions(order)["skip"] == "nobody has been asked to pick yet"
    with pytest.raises(ProcessStateError, match="cannot be done by hand yet: nobody has been asked"):
        order_skip_step(order_id=order.pk, user=olga, step=WaitForPick.name, reason="found", entered={})
    assert Order.objects.get(pk=order.pk).step == WaitForPick.name


def test_a_step_that_is_no_wait_may_be_done_by_hand_before_it_runs(catalogue):
    """The charge step, due and not yet run, may be skipped: only a wait step has to wait."""
    order = place_order()

    assert order.step == "charge_payment" and order.run_status == RunStatus.READY
    assert order_available_actions(order)["skip"] == ""


def test_a_waiting_pick_may_be_done_by_hand():
    """Once the order waits for its picker, the console offers the skip."""
    order = Order(step=WaitForPick.name, run_status=RunStatus.WAITING)

    assert order_available_actions(order)["skip"] == ""
