"""The simulated carrier issues unique SIMPOST labels once per key and voids them once."""

import re

import pytest

from fulfillment.gateways import IdempotencyConflict, LabelVoid, ServiceTimeout
from fulfillment.simulators.carrier import labels, labels_bulk
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import LabelRecord

from .conftest import SIMULATORS_DB

pytestmark = SIMULATORS_DB
ADDRESS = {"name": "Ada", "line1": "1 Analytical St", "city": "London", "country": "GB"}


def create(carrier, key="order-1-label", reference="1", weight=500):
    return carrier.create_label(
        reference=reference, address=ADDRESS, weight_grams=weight, idempotency_key=key
    )


def test_label_has_simpost_tracking_and_url(carrier):
    """A label is SIMPOST, tracked as SP + 12 digits, with a fake PDF address."""
    label = create(carrier)
    assert label.carrier == "SIMPOST"
    assert re.fullmatch(r"SP\d{12}", label.tracking_number)
    assert label.label_url == f"sim://labels/{label.tracking_number}.pdf"


def test_label_replay_returns_same_label(carrier):
    """Creating again with the key answers the first label and issues no second one."""
    assert create(carrier) == create(carrier)
    assert labels("1") == {"live": 1, "voided": 0}


def test_label_key_reused_for_other_parcel_conflicts(carrier):
    """The same key with another weight is a conflict."""
    create(carrier)
    with pytest.raises(IdempotencyConflict):
        create(carrier, weight=900)


def test_void_voids_once_whatever_the_key(carrier):
    """Voiding with two keys voids the one label and answers its tracking number both times."""
    label = create(carrier)
    first = carrier.void_label(label_key="order-1-label", reference="1", idempotency_key="void-a")
    second = carrier.void_label(label_key="order-1-label", reference="1", idempotency_key="void-b")
    assert first == second == LabelVoid(tracking_number=label.tracking_number)
    assert labels("1") == {"live": 0, "voided": 1}


def test_void_of_missing_label_answers_none(carrier):
    """No label under the key: the void answers None and changes nothing."""
    assert carrier.void_label(label_key="nothing", reference="1", idempotency_key="v") == LabelVoid(None)


def test_label_timeout_after_effect_then_retry(carrier):
    """A label made before the timeout is the one a retry gets back."""
    fault_add(service="carrier", operation="create_label", mode="timeout_after_effect", reference="1")
    with pytest.raises(ServiceTimeout):
        create(carrier)
    assert create(carrier).tracking_number == LabelRecord.objects.get().tracking_number


def test_labels_bulk(carrier):
    """The bulk count answers each reference asked for."""
    create(carrier, key="a", reference="1")
    create(carrier, key="b", reference="2")
    carrier.void_label(label_key="b", reference="2", idempotency_key="vb")
    assert labels_bulk(["1", "2", "3"]) == {
        "1": {"live": 1, "voided": 0},
        "2": {"live": 0, "voided": 1},
        "3": {"live": 0, "voided": 0},
    }
