"""When an order cannot finish, its completed steps are undone in reverse, exactly once."""

from decimal import Decimal

from fulfillment.models import OrderState, Payment, Reservation
from fulfillment.simulators.carrier import labels
from fulfillment.simulators.faults import fault_add
from processes import clock
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, place_order

pytestmark = ENGINE_DB


def transitions(order):
    events = ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.TRANSITION)
    return [e.to_state for e in events]


def test_out_of_stock_after_charge_refunds(catalogue):
    """Payment succeeds, inventory fails: the charge is refunded and the order cancelled."""
    with clock.frozen():
        order = drive(place_order(lines=[("MUG-001", 500)]))

    assert order.state == OrderState.CANCELLED
    assert transitions(order) == ["received", "payment_charged", "compensating", "cancelled"]
    reason = ProcessEvent.objects.get(process_id=order.pk, to_state="compensating").reason
    assert "reserve_inventory failed permanently" in reason and "OutOfStock" in reason
    assert payment_ledger(order) == {
        "charged": Decimal("6250.00"),
        "refunded": Decimal("6250.00"),
        "charges": 1,
        "refunds": 1,
    }
    assert Payment.objects.get(order=order).status == Payment.Status.REFUNDED
    assert catalogue.stock(catalogue.mug).reserved == 0
    assert not Reservation.objects.filter(order=order).exists()


def test_refund_that_times_out_is_retried_with_the_same_key(catalogue):
    """The first refund attempts time out after refunding: retries find that refund, none twice."""
    order = place_order(lines=[("MUG-001", 500)])
    fault_add(service="payment", operation="refund", mode="timeout_after_effect", times=2)
    fault_add(service="payment", operation="refund", mode="unavailable", times=1)
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.CANCELLED
    ledger = payment_ledger(order)
    assert ledger["refunds"] == 1 and ledger["refunded"] == ledger["charged"] == Decimal("6250.00")
    undo = StepAttempt.objects.filter(process_id=order.pk, step="charge_payment", direction="compensate")
    assert list(undo.values_list("outcome", flat=True)) == ["failed", "failed", "failed", "succeeded"]
    assert len(set(undo.values_list("idempotency_key", flat=True))) == 1


def test_declined_card_cancels_without_refund(catalogue):
    """A permanent decline compensates at once: no retries, nothing to refund, stock untouched."""
    with clock.frozen():
        order = drive(place_order(token="tok_declined"))

    assert order.state == OrderState.CANCELLED
    assert transitions(order) == ["received", "compensating", "cancelled"]
    attempts = StepAttempt.objects.filter(process_id=order.pk)
    assert attempts.count() == 1 and attempts.get().error_class.endswith("PaymentDeclined")
    assert payment_ledger(order)["charges"] == 0
    assert catalogue.stock(catalogue.mug).reserved == 0


def test_label_failure_undoes_in_reverse_order(catalogue):
    """Label creation exhausts its retries: stock released, then payment refunded, in that order."""
    order = place_order()
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=6)
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.CANCELLED
    undone = StepAttempt.objects.filter(process_id=order.pk, direction="compensate", outcome="succeeded")
    assert list(undone.values_list("step", flat=True)) == [
        "create_label",
        "reserve_inventory",
        "charge_payment",
    ]
    assert labels(str(order.pk)) == {"live": 0, "voided": 0}
    assert catalogue.stock(catalogue.mug).reserved == 0 and catalogue.stock(catalogue.tee).reserved == 0
    assert payment_ledger(order)["refunded"] == payment_ledger(order)["charged"] == Decimal("49.00")


def test_label_made_but_answer_lost_is_voided(catalogue):
    """A label whose every answer was lost may exist: compensation voids it anyway."""
    order = place_order()
    fault_add(service="carrier", operation="create_label", mode="timeout_after_effect", times=6)
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.CANCELLED
    assert labels(str(order.pk)) == {"live": 0, "voided": 1}
    assert payment_ledger(order)["refunds"] == 1
