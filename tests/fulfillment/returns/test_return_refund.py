"""The refund of a return is made once whatever the gateway's timeouts, never passes what was
charged, and needs a person (with the alert) when it cannot be made."""

from decimal import Decimal

from fulfillment.models import Return, ReturnState
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import RefundRecord
from processes import clock
from processes.models.journal import StepAttempt
from processes.models.outbox import OutboxMessage
from tests.conftest import ENGINE_DB
from tests.factories import payment_ledger
from tests.return_factories import completed_order, drive_return, request_return

pytestmark = ENGINE_DB


def test_a_refund_timing_out_after_its_effect_is_retried_and_refunds_once(catalogue):
    """The gateway refunds, then times out twice; the retries with the same key find the refund:
    one refund of 24.00 on the gateway, recorded once."""
    with clock.frozen():
        order = completed_order()
        ret = drive_return(request_return(order, ("TEE-042", 1)), judge=None)
        fault_add(
            service="payment",
            operation="refund",
            mode="timeout_after_effect",
            times=2,
            reference=str(order.pk),
        )
        ret = drive_return(ret)

    assert ret.state == ReturnState.COMPLETED
    attempts = StepAttempt.objects.filter(process_id=ret.pk, step="refund_return").order_by("attempt")
    assert [a.outcome for a in attempts] == ["failed", "failed", "succeeded"]
    assert [a.error_class for a in attempts[:2]] == ["fulfillment.gateways.ServiceTimeout"] * 2
    assert len({a.idempotency_key for a in attempts}) == 1
    assert payment_ledger(order)["refunded"] == Decimal("24.00")
    assert RefundRecord.objects.filter(reference=str(order.pk)).count() == 1
    assert ret.refund.amount == Decimal("24.00")


def test_returns_of_one_order_never_refund_more_than_its_charge(catalogue):
    """Every unit of the order returned over two returns: together refunded exactly the charge."""
    with clock.frozen():
        order = completed_order()
        first = drive_return(request_return(order, ("MUG-001", 1), ("TEE-042", 1)))
        second = drive_return(request_return(order, ("MUG-001", 1)))

    assert first.refund.amount + second.refund.amount == Decimal("49.00")
    assert payment_ledger(order) == {
        "charged": Decimal("49.00"),
        "refunded": Decimal("49.00"),
        "charges": 1,
        "refunds": 2,
    }


def test_a_refund_the_gateway_refuses_needs_a_person_with_an_alert(catalogue):
    """The order was refunded in full outside the return (say, on the provider's dashboard): the
    gateway refuses the return's refund, which stops for an operator and alerts them."""
    from fulfillment.gateways import payment_gateway

    with clock.frozen():
        order = completed_order()
        ret = drive_return(request_return(order, ("MUG-001", 1)), judge=None)
        charge_key = f"fulfillment.order:{order.pk}:charge_payment"
        payment_gateway().refund(charge_key=charge_key, reference=str(order.pk), idempotency_key="dashboard")
        ret = drive_return(ret)

    assert ret.needs_attention and ret.state == ReturnState.INSPECTED and ret.step == "refund_return"
    assert "cannot refund 12.50" in ret.attention_reason
    assert OutboxMessage.objects.filter(process_id=ret.pk, kind="attention").count() == 1
    assert Return.objects.get(pk=ret.pk).refund_settled() is False
