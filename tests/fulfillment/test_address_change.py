"""Changing an order's shipping address in flight: recorded before the label, the label voided
and made again after it (new keys, one live label at the carrier), refused once the pick began,
and the fix-and-retry of an address the carrier refused."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from fulfillment.address_change import order_address_change
from fulfillment.errors import AddressNotChangeable, PickTaskClosed
from fulfillment.models import Order, OrderState, PickTask, Shipment
from fulfillment.picking.tasks import pick_task_claim
from fulfillment.proving.invariants import invariants_check
from fulfillment.simulators.carrier import UNDELIVERABLE_POSTCODE, labels
from fulfillment.simulators.models import LabelRecord
from fulfillment.workflow import ORDER_WORKFLOW
from processes import clock, conf, runner, sweeper
from processes.journal import Actor
from processes.models.journal import AttemptOutcome, ProcessEvent, StepAttempt
from tests.conftest import ENGINE_DB
from tests.factories import ADDRESS, drive, place_order

pytestmark = ENGINE_DB

NEW_ADDRESS = {**ADDRESS, "line1": "3 New Street", "postal_code": "N2 8BB"}
OPERATOR = Actor("operator", "olga")


def change(order, address=NEW_ADDRESS, reason="customer moved"):
    return order_address_change(order_id=order.pk, address=address, actor=OPERATOR, reason=reason)


def run_until_label_step(order):
    for _ in range(10):
        order.refresh_from_db()
        if order.step == "create_label":
            return order
        claim = runner.claim_step(ORDER_WORKFLOW, order.pk, "worker-1")
        if isinstance(claim, runner.Claim):
            runner.apply_outcome(claim, runner.perform(claim))
    raise AssertionError("never reached create_label")


def carrier_labels(order):
    return list(LabelRecord.objects.filter(reference=str(order.pk)).order_by("id"))


def assert_sound(order):
    broken = {
        name: ids for name, ids in invariants_check(orders=Order.objects.filter(pk=order.pk)).items() if ids
    }
    assert broken == {}


def test_before_the_label_the_new_address_is_recorded_and_used(catalogue):
    with clock.frozen():
        order = run_until_label_step(place_order())
        change(order)
        order = drive(order)

    assert order.state == OrderState.COMPLETED and order.shipping_address["line1"] == "3 New Street"
    (label,) = carrier_labels(order)
    assert label.address["line1"] == "3 New Street" and label.voided_at is None
    assert label.idempotency_key == f"fulfillment.order:{order.pk}:create_label"
    event = ProcessEvent.objects.get(process_id=order.pk, transition="change_address")
    assert (
        "12 Analytical Row" in event.reason
        and "3 New Street" in event.reason
        and "customer moved" in event.reason
    )
    assert event.actor == "olga" and event.from_state == event.to_state == OrderState.INVENTORY_RESERVED
    assert_sound(order)


def test_after_the_label_it_is_voided_and_made_again_with_the_new_address(catalogue):
    with clock.frozen():
        order = drive(place_order(), pick=False)
        assert order.state == OrderState.AWAITING_PICK
        order = change(order)
        assert order.state == OrderState.LABEL_CREATED and order.direction == "redo"
        assert PickTask.objects.get(order=order).status == PickTask.Status.CANCELLED
        order = drive(order, pick=False)
        assert order.state == OrderState.AWAITING_PICK and order.redo_counts == {"create_label": 1}
        assert PickTask.objects.get(order=order).status == PickTask.Status.OPEN
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    old, new = carrier_labels(order)
    assert old.voided_at is not None and old.address["line1"] == "12 Analytical Row"
    assert new.voided_at is None and new.address["line1"] == "3 New Street"
    assert new.idempotency_key == old.idempotency_key + ":redo1"
    assert labels(str(order.pk)) == {"live": 1, "voided": 1}
    live = Shipment.objects.get(order=order, voided_at__isnull=True)
    assert live.tracking_number == new.tracking_number
    transitions = list(
        ProcessEvent.objects.filter(process_id=order.pk, kind="transition").values_list(
            "transition", flat=True
        )
    )
    redo = ["change_address", "withdraw_pick", "void_label_to_redo", "mark_label_created", "open_pick"]
    assert [name for name in transitions if name in redo][-5:] == redo
    assert_sound(order)


def test_refused_once_a_worker_claimed_the_pick(catalogue):
    """The worker's claim came first: the change is refused and nothing changes."""
    worker = get_user_model().objects.create_user("pia")
    with clock.frozen():
        order = drive(place_order(), pick=False)
        pick_task_claim(task_id=PickTask.objects.get(order=order).pk, worker=worker)
        with pytest.raises(AddressNotChangeable, match="pia claimed its pick task"):
            change(order)
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS and order.state == OrderState.AWAITING_PICK
    assert not ProcessEvent.objects.filter(process_id=order.pk, transition="change_address").exists()
    assert labels(str(order.pk)) == {"live": 1, "voided": 0}


def test_refused_once_picked(catalogue):
    with clock.frozen():
        order = drive(place_order(), pick=False)
        from fulfillment.simulators.picker import simulated_picker_run

        simulated_picker_run(delay=0)
        order.refresh_from_db()
        assert order.state == OrderState.PICKED
        with pytest.raises(AddressNotChangeable, match="its items have been picked"):
            change(order)
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS


def test_a_worker_claiming_after_the_change_finds_the_task_closed(catalogue):
    """The change came first: it withdrew the pick task under the order's lock, so the claim
    that follows is refused until the new label is made and the task opens again."""
    worker = get_user_model().objects.create_user("pia")
    with clock.frozen():
        order = drive(place_order(), pick=False)
        task = PickTask.objects.get(order=order)
        change(order)
        with pytest.raises(PickTaskClosed):
            pick_task_claim(task_id=task.pk, worker=worker)
        drive(order, pick=False)
        assert pick_task_claim(task_id=task.pk, worker=worker).status == PickTask.Status.CLAIMED


@pytest.mark.parametrize(
    "dies", ["after_the_void_call", "between_the_void_and_the_new_label", "after_the_new_label_call"]
)
def test_a_worker_dying_during_the_redo_ends_with_one_live_label(catalogue, dies):
    with clock.frozen():
        order = change(drive(place_order(), pick=False))
        undo = runner.claim_step(ORDER_WORKFLOW, order.pk, "worker-1")
        assert undo.ctx.direction == "redo" and undo.ctx.idempotency_key.endswith("create_label:undo")
        if dies == "after_the_void_call":
            runner.perform(undo)  # voided at the carrier; the worker dies before recording it
        else:
            runner.apply_outcome(undo, runner.perform(undo))
            new = runner.claim_step(ORDER_WORKFLOW, order.pk, "doomed")
            assert new.ctx.direction == "forward" and new.ctx.idempotency_key.endswith("create_label:redo1")
            if dies == "after_the_new_label_call":
                runner.perform(new)  # the new label exists; the worker dies before recording it
            # between_the_void_and_the_new_label: it dies before the call
        order.refresh_from_db()
        clock.advance(order.lease_until - clock.now() + timedelta(seconds=1))
        clock.advance(conf.get("REDELIVER_AFTER"))
        assert sweeper.sweep_once() == 1
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    assert labels(str(order.pk)) == {"live": 1, "voided": 1}
    assert Shipment.objects.filter(order=order, voided_at__isnull=True).count() == 1
    assert carrier_labels(order)[-1].address["line1"] == "3 New Street"
    assert StepAttempt.objects.filter(process_id=order.pk, outcome=AttemptOutcome.ABANDONED).count() == 1
    assert_sound(order)


def test_fix_and_retry_an_address_the_carrier_refused(catalogue):
    """The carrier refuses the postcode: the order waits for a person with its charge and stock
    kept; correcting the address retries the label step under a new key, and the order goes on."""
    with clock.frozen():
        order = run_until_label_step(place_order())
        Order.objects.filter(pk=order.pk).update(
            shipping_address={**ADDRESS, "postal_code": UNDELIVERABLE_POSTCODE}
        )
        order = drive(order)
        assert order.needs_attention and order.step == "create_label"
        assert "AddressRejected" in order.attention_reason
        order = change(order, NEW_ADDRESS, reason="postcode corrected with the customer")
        assert not order.needs_attention
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    (label,) = carrier_labels(order)
    assert label.address["postal_code"] == "N2 8BB" and label.idempotency_key.endswith(":redo1")
    assert labels(str(order.pk)) == {"live": 1, "voided": 0}
    assert_sound(order)


def test_the_same_address_again_changes_nothing(catalogue):
    with clock.frozen():
        order = drive(place_order(), pick=False)
        change(order, ADDRESS)
    order.refresh_from_db()
    assert order.direction == "forward" and order.state == OrderState.AWAITING_PICK
    assert not ProcessEvent.objects.filter(process_id=order.pk, transition="change_address").exists()
