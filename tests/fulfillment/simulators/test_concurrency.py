"""Racing calls with one idempotency key produce one effect, enforced by the database."""

import threading
from decimal import Decimal

from django.db import connections

from fulfillment.simulators import idempotency
from fulfillment.simulators.models import ChargeRecord, RefundRecord

from .conftest import SIMULATORS_DB

pytestmark = SIMULATORS_DB


def race(monkeypatch, call):
    """Run `call` in two threads that both look the key up before either writes its record."""
    barrier = threading.Barrier(2, timeout=10)
    seen = threading.local()
    lookup = idempotency.stored_record

    def lookup_then_wait(service, key):
        record = lookup(service, key)
        if not getattr(seen, "waited", False):
            seen.waited = True
            barrier.wait()
        return record

    monkeypatch.setattr(idempotency, "stored_record", lookup_then_wait)
    results, errors = [], []

    def run():
        try:
            results.append(call())
        except Exception as exc:  # reported by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    return results


def test_two_charges_with_one_key_at_once_charge_once(gateway, monkeypatch):
    """Both callers get the same charge; the loser's insert fails on the key and replays."""

    def pay():
        return gateway.charge(
            amount=Decimal("9.99"), currency="EUR", token="tok_ok", reference="3", idempotency_key="order-3"
        )

    first, second = race(monkeypatch, pay)
    assert first == second
    assert ChargeRecord.objects.count() == 1


def test_two_refund_keys_at_once_refund_once(gateway, monkeypatch):
    """Two different refund keys racing on one charge still leave a single refund."""
    gateway.charge(
        amount=Decimal("9.99"), currency="EUR", token="tok_ok", reference="3", idempotency_key="order-3"
    )
    keys = iter(["refund-a", "refund-b"])
    lock = threading.Lock()

    def refund():
        with lock:
            key = next(keys)
        return gateway.refund(charge_key="order-3", reference="3", idempotency_key=key)

    first, second = race(monkeypatch, refund)
    assert first == second
    assert RefundRecord.objects.count() == 1
