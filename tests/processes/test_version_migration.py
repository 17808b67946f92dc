"""Moving an in-flight process to another version: only at a safe point the new version maps,
journalled, refused with the reason anywhere else."""

import pytest

from fulfillment.models import Order, OrderState
from fulfillment.simulators.faults import fault_add
from processes import clock
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from processes.versions import process_migrate_version
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order, run_due

pytestmark = ENGINE_DB
OLGA = Actor("operator", "olga")


def migrate(order, version=2, reason="stuck on v1"):
    return process_migrate_version(
        model=Order, process_id=order.pk, to_version=version, actor=OLGA, reason=reason
    )


def test_an_untouched_v1_order_moves_to_the_fraud_check_and_completes_on_v2(catalogue):
    order = place_order()
    moved = migrate(order)
    assert (moved.workflow_version, moved.step, moved.attempts) == (2, "fraud_check", 0)
    note = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.OPERATOR_ACTION)
    assert note.actor == "olga" and note.reason == "moved from v1 to v2 at fraud_check: stuck on v1"
    with clock.frozen():
        done = drive(order)
    assert (done.state, done.workflow_version) == (OrderState.COMPLETED, 2)
    assert StepAttempt.objects.filter(process_id=order.pk, step="fraud_check").exists()


def test_a_stuck_v1_order_keeps_its_step_and_attempts_on_v2(catalogue):
    """Backing off at the label: it continues at the same step, on v2, and completes."""
    order = place_order()
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=1)
    with clock.frozen():
        run_due(order)
        moved = migrate(order)
        assert (moved.workflow_version, moved.step, moved.attempts) == (2, "create_label", 1)
        assert moved.completed_steps == ["charge_payment", "reserve_inventory"]
        done = drive(order)
    assert (done.state, done.workflow_version) == (OrderState.COMPLETED, 2)


def test_refused_from_a_state_the_mapping_does_not_cover(catalogue):
    fault_add(service="mail", operation="send", mode="unavailable", times=8)
    with clock.frozen():
        order = drive(place_order())
    assert order.state == OrderState.PICKED and order.needs_attention
    with pytest.raises(
        ProcessStateError, match=r"is picked: v2 maps no such state from v1 \(it maps received, "
    ):
        migrate(order)
    assert Order.objects.get(pk=order.pk).workflow_version == 1


def test_refused_when_it_would_go_back_before_an_attempted_step(catalogue):
    """An attempted charge may have happened: the order must not go back to the fraud check."""
    order = place_order()
    fault_add(service="payment", operation="charge", mode="unavailable", times=1)
    with clock.frozen():
        run_due(order)
    with pytest.raises(ProcessStateError, match="already attempted charge_payment"):
        migrate(order)


@pytest.mark.parametrize("token", ["tok_ok", "tok_declined"])
def test_refused_once_finished_or_on_the_same_version(catalogue, token):
    with clock.frozen():
        order = drive(place_order(token=token))
    with pytest.raises(ProcessStateError, match="only a process going forward"):
        migrate(order)
    with pytest.raises(ProcessStateError, match="already runs on v1"):
        migrate(order, version=1)
