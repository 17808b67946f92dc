"""The simulators commit on their own connection, like a remote service, whatever the caller does."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from fulfillment.simulators.payment import ledger

from .conftest import SIMULATORS_DB

pytestmark = SIMULATORS_DB


def test_charge_persists_when_callers_transaction_rolls_back(gateway):
    """The caller's rollback undoes its own rows but not the charge the gateway made."""
    with pytest.raises(RuntimeError), transaction.atomic():
        User.objects.create(username="caller")
        gateway.charge(
            amount=Decimal("12.50"), currency="EUR", token="tok_ok", reference="5", idempotency_key="order-5"
        )
        raise RuntimeError("caller crashed after the call")
    assert not User.objects.exists()
    assert ledger("5")["charged"] == Decimal("12.50")
