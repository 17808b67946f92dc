"""Refunds are full, keyed, and happen at most once per charge whatever keys are used."""

from decimal import Decimal

import pytest

from fulfillment.gateways import PaymentDeclined, Refund
from fulfillment.simulators.models import IdempotencyRecord, RefundRecord
from fulfillment.simulators.payment import ledger, ledger_bulk

from .conftest import SIMULATORS_DB

pytestmark = SIMULATORS_DB


def charge(gateway, key="order-1-charge", token="tok_ok", reference="1"):
    return gateway.charge(
        amount=Decimal("40.00"), currency="EUR", token=token, reference=reference, idempotency_key=key
    )


def test_refund_without_charge_refunds_nothing_and_is_stored(gateway):
    """No charge under the key: the answer is an empty refund, stored under the refund key."""
    answer = gateway.refund(charge_key="never-charged", reference="1", idempotency_key="order-1-refund")
    assert answer == Refund(refund_id=None, charge_id=None, amount=Decimal(0))
    assert IdempotencyRecord.objects.filter(key="order-1-refund").exists()
    assert RefundRecord.objects.count() == 0


def test_declined_charge_is_not_refunded(gateway):
    """Only a successful charge is refunded; a decline under the key refunds nothing."""
    with pytest.raises(PaymentDeclined):
        charge(gateway, token="tok_declined")
    answer = gateway.refund(charge_key="order-1-charge", reference="1", idempotency_key="order-1-refund")
    assert answer.refund_id is None


def test_refund_twice_with_same_key_refunds_once(gateway):
    """A retried refund returns the first refund and adds no second one."""
    paid = charge(gateway)
    first = gateway.refund(charge_key="order-1-charge", reference="1", idempotency_key="order-1-refund")
    second = gateway.refund(charge_key="order-1-charge", reference="1", idempotency_key="order-1-refund")
    assert second == first
    assert first.charge_id == paid.charge_id and first.amount == Decimal("40.00")
    assert ledger("1") == {
        "charged": Decimal("40.00"),
        "refunded": Decimal("40.00"),
        "charges": 1,
        "refunds": 1,
    }


def test_refund_with_two_keys_still_refunds_once(gateway):
    """A second refund key for the same charge gets the existing refund back, not a new one."""
    charge(gateway)
    first = gateway.refund(charge_key="order-1-charge", reference="1", idempotency_key="refund-a")
    second = gateway.refund(charge_key="order-1-charge", reference="1", idempotency_key="refund-b")
    assert second == first
    assert RefundRecord.objects.count() == 1


def test_ledger_bulk_reports_every_reference(gateway):
    """The bulk ledger answers each reference asked for, zeros included."""
    charge(gateway, key="k1", reference="1")
    charge(gateway, key="k2", reference="2")
    gateway.refund(charge_key="k2", reference="2", idempotency_key="r2")
    result = ledger_bulk(["1", "2", "3"])
    assert result["1"]["charged"] == Decimal("40.00") and result["1"]["refunds"] == 0
    assert result["2"]["refunded"] == Decimal("40.00") and result["2"]["refunds"] == 1
    assert result["3"] == {"charged": Decimal(0), "refunded": Decimal(0), "charges": 0, "refunds": 0}
