"""Bad return settings stop the service at start-up with a message naming the setting."""

from decimal import Decimal

import pytest

from fulfillment.returns.checks import check_return_settings


def messages() -> list[tuple[str, str]]:
    return [(error.id, error.msg) for error in check_return_settings()]


def test_the_defaults_pass(settings):
    assert messages() == []
    assert settings.RETURN_APPROVAL_TIMEOUT == 604800


@pytest.mark.parametrize(
    "name",
    [
        "RETURN_APPROVAL_TIMEOUT",
        "RETURN_INSPECTION_TIMEOUT",
        "RETURN_WINDOW_DAYS",
        "RETURN_PARCEL_DEADLINE_DAYS",
    ],
)
@pytest.mark.parametrize("value", [0, -5, 1.5, "600", True, None])
def test_durations_must_be_whole_and_positive(settings, name, value):
    setattr(settings, name, value)
    unit = "days" if name.endswith("_DAYS") else "seconds"
    assert messages() == [
        ("fulfillment.E121", f"{name}={value!r} must be a whole number of {unit}, at least 1.")
    ]


@pytest.mark.parametrize("value", [-1, "200", None, Decimal("NaN"), float("inf")])
def test_the_approval_threshold_must_be_an_amount(settings, value):
    settings.RETURN_APPROVAL_THRESHOLD = value
    assert [error_id for error_id, _ in messages()] == ["fulfillment.E122"]


def test_a_threshold_of_nothing_sends_every_return_to_an_operator(settings):
    settings.RETURN_APPROVAL_THRESHOLD = 0
    assert messages() == []
