"""A charge's idempotency key: the same request replays the stored answer, another is refused."""

from decimal import Decimal

import pytest

from fulfillment.gateways import IdempotencyConflict, IssuerUnavailable, PaymentDeclined
from fulfillment.simulators.models import ChargeRecord
from fulfillment.simulators.payment import ledger

from .conftest import SIMULATORS_DB

pytestmark = SIMULATORS_DB


def charge(gateway, *, key="order-1-charge", token="tok_ok", amount=Decimal("25.00"), reference="1"):
    return gateway.charge(
        amount=amount, currency="EUR", token=token, reference=reference, idempotency_key=key
    )


def test_replay_returns_same_charge_and_one_ledger_row(gateway):
    """Charging twice with one key and one request answers the same charge and charges once."""
    first = charge(gateway)
    second = charge(gateway)
    assert second == first
    assert first.amount == Decimal("25.00") and first.currency == "EUR"
    assert ChargeRecord.objects.count() == 1
    assert ledger("1") == {"charged": Decimal("25.00"), "refunded": Decimal(0), "charges": 1, "refunds": 0}


def test_same_amount_written_differently_is_the_same_request(gateway):
    """25 and 25.00 are one request, so the replay is not a conflict."""
    first = charge(gateway, amount=Decimal("25.00"))
    assert charge(gateway, amount=Decimal("25")) == first


def test_different_request_with_same_key_conflicts(gateway):
    """Reusing a key for another amount raises IdempotencyConflict and has no effect."""
    charge(gateway)
    with pytest.raises(IdempotencyConflict):
        charge(gateway, amount=Decimal("30.00"))
    assert ChargeRecord.objects.count() == 1


def test_decline_is_stored_and_replayed(gateway):
    """A declined charge's key raises PaymentDeclined again on replay, without a second attempt."""
    with pytest.raises(PaymentDeclined, match="card declined"):
        charge(gateway, token="tok_declined")
    with pytest.raises(PaymentDeclined, match="card declined"):
        charge(gateway, token="tok_declined")
    assert ChargeRecord.objects.get().status == ChargeRecord.Status.DECLINED
    assert ledger("1")["charges"] == 0


def test_unknown_token_is_declined(gateway):
    """Any token the simulator does not know is refused as unknown."""
    with pytest.raises(PaymentDeclined, match="unknown token"):
        charge(gateway, token="tok_visa")


def test_flaky_token_fails_before_any_effect(gateway, dice):
    """tok_flaky's issuer does not answer when the dice say so (the card's trouble, not the
    gateway's), charging nothing; otherwise it pays."""
    dice(0.1)
    with pytest.raises(IssuerUnavailable):
        charge(gateway, token="tok_flaky")
    assert ChargeRecord.objects.count() == 0
    dice(0.9)
    assert charge(gateway, token="tok_flaky").amount == Decimal("25.00")
