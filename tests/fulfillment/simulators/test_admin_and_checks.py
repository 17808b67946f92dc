"""The ledgers are read-only in the admin, fault rules are editable, and bad settings are refused."""

import pytest
from django.contrib.auth.models import User

from fulfillment.simulators.conf import check_simulator_settings
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import ChargeRecord

from .conftest import SIMULATORS_DB


@SIMULATORS_DB
def test_ledger_is_listed_but_not_editable(client, gateway):
    """A superuser sees the charges list, and cannot add one."""
    from decimal import Decimal

    gateway.charge(amount=Decimal("1.00"), currency="EUR", token="tok_ok", reference="1", idempotency_key="k")
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    listing = client.get("/admin/simulators/chargerecord/")
    assert listing.status_code == 200
    assert ChargeRecord.objects.get().charge_id in listing.content.decode()
    assert client.get("/admin/simulators/chargerecord/add/").status_code == 403


@SIMULATORS_DB
def test_fault_rule_is_editable(client):
    """A fault rule can be changed from the admin."""
    rule = fault_add(service="mail", operation="send", mode="unavailable")
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    assert client.get(f"/admin/simulators/faultrule/{rule.pk}/change/").status_code == 200


@pytest.mark.parametrize(
    "value",
    [{"TRANSIENT_ERROR_RATE": 1.5}, {"LATENCY_MS": -1}, {"AMBIGUOUS_TIMEOUT_RATE": "x"}, {"SPEED": 1}],
)
def test_bad_simulator_settings_are_refused(settings, value):
    """The system check names the bad SIMULATORS value."""
    settings.SIMULATORS = value
    assert check_simulator_settings(None)


def test_default_simulator_settings_pass(settings):
    """The settings from the environment defaults pass the check."""
    settings.SIMULATORS = {"TRANSIENT_ERROR_RATE": 0.05, "AMBIGUOUS_TIMEOUT_RATE": 0.02, "LATENCY_MS": 0}
    assert check_simulator_settings(None) == []
