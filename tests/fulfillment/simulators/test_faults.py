"""Injected faults: where each one strikes relative to the effect, and how rules are consumed."""

from decimal import Decimal

import pytest
from django.db import connections

from fulfillment.gateways import ServiceTimeout, ServiceUnavailable
from fulfillment.simulators.faults import fault_add, inject
from fulfillment.simulators.models import ChargeRecord, FaultRule, IdempotencyRecord

from .conftest import SIMULATORS_DB

pytestmark = SIMULATORS_DB


def charge(gateway, reference="1"):
    return gateway.charge(
        amount=Decimal("10.00"),
        currency="EUR",
        token="tok_ok",
        reference=reference,
        idempotency_key=f"c-{reference}",
    )


def test_timeout_after_effect_keeps_the_charge_and_retry_returns_it(gateway):
    """The charge is committed before the timeout; retrying with the key answers that charge."""
    fault_add(service="payment", operation="charge", mode="timeout_after_effect")
    with pytest.raises(ServiceTimeout):
        charge(gateway)
    stored = ChargeRecord.objects.get()
    assert charge(gateway).charge_id == stored.charge_id
    assert ChargeRecord.objects.count() == 1


def test_unavailable_leaves_nothing(gateway):
    """Refused before any effect: no charge and no stored answer, so a retry charges afresh."""
    fault_add(service="payment", operation="charge", mode="unavailable")
    with pytest.raises(ServiceUnavailable):
        charge(gateway)
    assert not ChargeRecord.objects.exists() and not IdempotencyRecord.objects.exists()
    charge(gateway)
    assert ChargeRecord.objects.count() == 1


def test_timeout_before_effect_leaves_nothing(gateway):
    """A timeout that strikes first is ambiguous to the caller but has no effect."""
    fault_add(service="payment", operation="charge", mode="timeout_before_effect")
    with pytest.raises(ServiceTimeout):
        charge(gateway)
    assert not ChargeRecord.objects.exists()


def test_rule_fires_its_count_then_stops():
    """A rule for two calls fires twice, then is spent (kept with remaining=0)."""
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=2)
    modes = [inject("carrier", "create_label", "9") for _ in range(3)]
    assert modes == ["unavailable", "unavailable", None]
    assert FaultRule.objects.get().remaining == 0


def test_rule_with_reference_matches_only_that_order():
    """A rule naming an order fires for it alone, and before a rule for any order."""
    fault_add(service="payment", operation="refund", mode="unavailable", reference="7")
    fault_add(service="payment", operation="refund", mode="timeout_after_effect")
    assert inject("payment", "refund", "8") == "timeout_after_effect"
    assert inject("payment", "refund", "8") is None
    assert inject("payment", "refund", "7") == "unavailable"


def test_rule_applies_to_replays(gateway):
    """A replay is a call like any other: a rule can refuse it."""
    charge(gateway)
    fault_add(service="payment", operation="charge", mode="unavailable")
    with pytest.raises(ServiceUnavailable):
        charge(gateway)


def test_misspelt_rule_is_refused():
    """fault_add refuses a mode, service or operation that does not exist."""
    with pytest.raises(ValueError):
        fault_add(service="payment", operation="charge", mode="explode")


def test_random_transient_error_strikes_before_effect(gateway, settings, dice):
    """TRANSIENT_ERROR_RATE refuses calls before any effect."""
    settings.SIMULATORS = {"TRANSIENT_ERROR_RATE": 0.5}
    dice(0.1)
    with pytest.raises(ServiceUnavailable):
        charge(gateway)
    assert not ChargeRecord.objects.exists()


def test_random_ambiguous_timeout_strikes_after_effect(gateway, settings, dice):
    """AMBIGUOUS_TIMEOUT_RATE commits the effect, then times out."""
    settings.SIMULATORS = {"AMBIGUOUS_TIMEOUT_RATE": 0.5}
    dice(0.1)
    with pytest.raises(ServiceTimeout):
        charge(gateway)
    assert ChargeRecord.objects.count() == 1


def test_latency_is_waited(gateway, settings, monkeypatch):
    """LATENCY_MS is slept before each call."""
    slept = []
    monkeypatch.setattr("fulfillment.simulators.faults.time.sleep", slept.append)
    settings.SIMULATORS = {"LATENCY_MS": 250}
    charge(gateway)
    assert slept == [0.25]


def test_a_call_no_rule_matches_takes_one_look_and_no_lock(django_assert_num_queries):
    """Nearly every call meets no rule: one plain query, no transaction, nothing consumed."""
    fault_add(service="carrier", operation="create_label", mode="unavailable")
    with django_assert_num_queries(1, connection=connections["simulators"]) as captured:
        assert inject("payment", "charge", "1") is None
    assert "FOR UPDATE" not in captured.captured_queries[0]["sql"]
    assert FaultRule.objects.get().remaining == 1
