"""A charge that times out is unknown, not failed: the retry with the same key settles it."""

from decimal import Decimal

from fulfillment.models import OrderState, Payment
from fulfillment.simulators.faults import fault_add
from processes import clock
from processes.models.journal import StepAttempt
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, place_order

pytestmark = ENGINE_DB


def test_charge_timeout_after_effect_charges_once(catalogue):
    """The gateway charged but the answer was lost: the retry gets the same charge back."""
    order = place_order()
    fault_add(service="payment", operation="charge", mode="timeout_after_effect", times=2)
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    assert payment_ledger(order) == {
        "charged": Decimal("49.00"),
        "refunded": Decimal("0"),
        "charges": 1,
        "refunds": 0,
    }
    attempts = StepAttempt.objects.filter(process_id=order.pk, step="charge_payment")
    assert [a.error_class.rsplit(".", 1)[-1] for a in attempts] == ["ServiceTimeout", "ServiceTimeout", ""]
    assert Payment.objects.get(order=order).charge_id


def test_charge_that_never_answers_is_refunded(catalogue):
    """Every charge attempt timed out after charging: the retries give up and the charge we never
    saw is refunded, so the customer pays nothing for a cancelled order."""
    order = place_order()
    fault_add(service="payment", operation="charge", mode="timeout_after_effect", times=6)
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.CANCELLED
    ledger = payment_ledger(order)
    assert ledger["charges"] == 1 and ledger["refunded"] == ledger["charged"] == Decimal("49.00")
    assert Payment.objects.get(order=order).status == Payment.Status.REFUNDED


def test_timeout_before_effect_then_success(catalogue):
    """A timeout where nothing happened is retried like any other: one charge in the end."""
    order = place_order()
    fault_add(service="payment", operation="charge", mode="timeout_before_effect", times=1)
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    assert payment_ledger(order)["charges"] == 1
