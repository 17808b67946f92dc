"""Fixtures of the operator console's tests: the two roles, a stranger, and orders in each
situation an operator meets, reached by running the real workflow under a frozen clock.

Each starts its frozen clock at `clock.now()`: real time, or an outer frozen time when a test
wants the orders' history to lie in the past."""

import pytest
from django.contrib.auth import get_user_model

from fulfillment.models import Order
from fulfillment.roles import OPERATORS, SUPPORT, roles_sync
from fulfillment.simulators.faults import fault_add
from fulfillment.workflow import ORDER_WORKFLOW
from processes import clock, runner
from processes.models.rollout import RolloutSetting
from tests.factories import after_quiet_window, drive, place_order, run_due


def make_user(username: str, group: str | None = None, *, staff: bool = True):
    user = get_user_model().objects.create_user(username=username, password="pw", is_staff=staff)
    if group:
        user.groups.add(roles_sync()[group])
    return user


@pytest.fixture
def operator(db):
    return make_user("olga", OPERATORS)


@pytest.fixture
def support(db):
    return make_user("sam", SUPPORT)


@pytest.fixture
def ops_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def support_client(client, support):
    client.force_login(support)
    return client


# --- Orders in the situations of the console, by name --------------------------------------


def due_payment():
    """Just placed: the payment step is due (received, ready)."""
    return place_order()


def backing_off_label():
    """The carrier refused the label once: create_label waits for its retry (inventory reserved)."""
    order = place_order()
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=1)
    with clock.frozen(clock.now()):
        run_due(order)  # charge, reserve, then the label's first attempt fails
    order.refresh_from_db()
    assert order.step == "create_label" and order.attempts == 1, (order.step, order.attempts)
    return order


def awaiting_pick():
    with clock.frozen(clock.now()):
        return drive(place_order(), pick=False)


def attention_confirmation():
    """Picked, but the confirmation could not be sent: needs attention at send_confirmation."""
    order = place_order()
    fault_add(service="mail", operation="send", mode="unavailable", times=8)
    with clock.frozen(after_quiet_window()):
        order = drive(order)
    assert order.needs_attention and order.state == "picked"
    return order


def attention_compensating():
    """The label was refused for good, then the refund kept failing: attention while undoing."""
    order = place_order()
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=6)
    fault_add(service="payment", operation="refund", mode="unavailable", times=8)
    with clock.frozen(clock.now()):
        order = drive(order)
    assert order.needs_attention and order.state == "compensating", (order.state, order.step)
    return order


def completed():
    with clock.frozen(clock.now()):
        return drive(place_order())


def cancelled():
    with clock.frozen(clock.now()):
        return drive(place_order(token="tok_declined"))


def place_v2_order():
    """An order placed on workflow v2 (fraud check first); later orders start on v1 again."""
    rollout = RolloutSetting.objects.create(workflow="fulfillment.order", percent=100)
    order = place_order()
    rollout.delete()
    assert order.workflow_version == 2
    return order


def due_fraud_check():
    """Just placed on workflow v2: the fraud check is due (received, ready)."""
    return place_v2_order()


def fraud_cleared():
    """On workflow v2 the screener cleared the order; its charge failed once and waits to retry."""
    order = place_v2_order()
    fault_add(service="payment", operation="charge", mode="unavailable", times=1)
    with clock.frozen(clock.now()):
        run_due(order)  # the fraud check passes, then the charge's first attempt fails
    order.refresh_from_db()
    assert (order.state, order.step) == ("fraud_cleared", "charge_payment"), (order.state, order.step)
    return order


def running_payment():
    """A worker holds the payment step's lease right now (its call is in flight)."""
    order = place_order()
    claim = runner.claim_step(ORDER_WORKFLOW, order.pk, "worker-1")
    assert isinstance(claim, runner.Claim)
    return Order.objects.get(pk=order.pk)


SCENARIOS = {
    fn.__name__: fn
    for fn in [
        due_payment,
        backing_off_label,
        awaiting_pick,
        attention_confirmation,
        attention_compensating,
        completed,
        cancelled,
        running_payment,
        due_fraud_check,
        fraud_cleared,
    ]
}
