"""Order workflow v2: a fraud check before the charge, undone (reported to the screener) when
the order is cancelled later; a refused order is cancelled without ever being charged."""

import pytest

from fulfillment.models import FraudCheck, OrderState, Payment
from fulfillment.simulators.faults import fault_add
from processes import clock
from processes.models.journal import ProcessEvent, StepAttempt
from processes.models.rollout import RolloutSetting
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger, place_order

pytestmark = ENGINE_DB


@pytest.fixture(autouse=True)
def everyone_on_v2(db):
    RolloutSetting.objects.create(workflow="fulfillment.order", percent=100)


def test_v2_screens_then_charges_and_completes(catalogue):
    with clock.frozen():
        order = drive(place_order())
    assert (order.workflow_version, order.state) == (2, OrderState.COMPLETED)
    transitions = ProcessEvent.objects.filter(process_id=order.pk, kind="transition")
    assert [(e.from_state, e.to_state) for e in transitions][:3] == [
        ("", "received"),
        ("received", "fraud_cleared"),
        ("fraud_cleared", "payment_charged"),
    ]
    check = FraudCheck.objects.get(order=order)
    assert check.cancelled_at is None and check.assessment_id.startswith("fa_")
    stored = StepAttempt.objects.get(process_id=order.pk, step="fraud_check").result
    assert stored == {"assessment_id": check.assessment_id, "score": check.score}


def test_a_refused_order_is_cancelled_without_a_charge(catalogue):
    with clock.frozen():
        order = drive(place_order(email="mallory@fraud.example"))
    assert order.state == OrderState.CANCELLED
    assert payment_ledger(order)["charges"] == 0
    assert not FraudCheck.objects.filter(order=order).exists()
    attempt = StepAttempt.objects.get(process_id=order.pk, step="fraud_check")
    assert attempt.error_class.endswith("FraudDeclined") and "risk score 99" in attempt.error_message


def test_a_later_failure_refunds_and_reports_the_cancellation_to_the_screener(catalogue):
    """The label is refused for good: label, stock and charge are undone, then the fraud check."""
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=6)
    with clock.frozen():
        order = drive(place_order())
    assert order.state == OrderState.CANCELLED
    assert Payment.objects.get(order=order).status == Payment.Status.REFUNDED
    assert FraudCheck.objects.get(order=order).cancelled_at is not None
    undone = StepAttempt.objects.filter(process_id=order.pk, direction="compensate", outcome="succeeded")
    assert [a.step for a in undone.order_by("id")][-2:] == ["charge_payment", "fraud_check"]
