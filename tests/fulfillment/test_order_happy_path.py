"""An order placed with a good card runs all five steps once and completes."""

from decimal import Decimal

from fulfillment.models import Notification, OrderState, Payment, PickTask
from fulfillment.simulators.carrier import labels
from fulfillment.simulators.models import SentMail
from processes import clock
from processes.models.journal import ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, place_order

pytestmark = ENGINE_DB


def test_order_completes_with_each_effect_once(catalogue):
    """Charged once, stock reserved, one live label, picked, one confirmation: completed."""
    with clock.frozen():
        order = drive(place_order())

    assert order.state == OrderState.COMPLETED
    assert order.run_status == RunStatus.FINISHED and not order.needs_attention
    assert order.total == Decimal("49.00")
    assert payment_ledger(order) == {
        "charged": Decimal("49.00"),
        "refunded": Decimal("0"),
        "charges": 1,
        "refunds": 0,
    }
    assert Payment.objects.get(order=order).status == Payment.Status.CHARGED
    assert catalogue.stock(catalogue.mug).reserved == 2
    assert labels(str(order.pk)) == {"live": 1, "voided": 0}
    assert PickTask.objects.get(order=order).status == PickTask.Status.DONE
    assert Notification.objects.filter(order=order).count() == 1
    assert SentMail.objects.filter(message_id__contains=str(order.pk)).count() == 1


def test_journal_tells_the_whole_story(catalogue):
    """Every transition is journalled in order, and the last one lands on the current state."""
    with clock.frozen():
        order = drive(place_order())

    events = list(ProcessEvent.objects.filter(process_id=order.pk, kind="transition"))
    assert [(e.from_state, e.to_state) for e in events] == [
        ("", "received"),
        ("received", "payment_charged"),
        ("payment_charged", "inventory_reserved"),
        ("inventory_reserved", "label_created"),
        ("label_created", "awaiting_pick"),
        ("awaiting_pick", "picked"),
        ("picked", "completed"),
    ]
    assert events[-1].to_state == order.state
    picked = events[5]
    assert (picked.actor_type, picked.actor) == ("worker", "simulated-picker")
    attempts = StepAttempt.objects.filter(process_id=order.pk)
    assert sorted(attempts.values_list("step", flat=True)) == sorted(
        ["charge_payment", "reserve_inventory", "create_label", "pick", "send_confirmation"]
    )
    assert set(attempts.values_list("outcome", flat=True)) == {"succeeded"}
    keys = set(attempts.values_list("idempotency_key", flat=True))
    assert f"fulfillment.order:{order.pk}:charge_payment" in keys
