"""Bad pick thresholds stop the service at start-up with a message naming the setting."""

import pytest

from fulfillment.picking import conf
from fulfillment.picking.checks import check_warehouse_settings


def messages(settings, **warehouse):
    settings.WAREHOUSE = warehouse
    return [(error.id, error.msg) for error in check_warehouse_settings()]


def test_defaults_pass(settings):
    assert messages(settings) == []
    assert conf.get("CLAIM_TIMEOUT") == 1800


def test_settings_are_read_when_used(settings):
    settings.WAREHOUSE = {"CLAIM_TIMEOUT": 60}
    assert conf.seconds("CLAIM_TIMEOUT").total_seconds() == 60


@pytest.mark.parametrize("value", [0, -5, 1.5, "600", True, None])
def test_durations_must_be_whole_positive_seconds(settings, value):
    assert messages(settings, WARNING_AFTER=value) == [
        (
            "fulfillment.E103",
            f"WAREHOUSE['WARNING_AFTER'] (environment: PICK_WARNING_AFTER)={value!r} "
            "must be a whole number of seconds, at least 1.",
        )
    ]


def test_a_timer_after_the_final_deadline_is_refused(settings):
    settings.PICK_TIMEOUT = 14400
    assert messages(settings, CLAIM_TIMEOUT=14400) == [
        (
            "fulfillment.E104",
            "WAREHOUSE['CLAIM_TIMEOUT'] (environment: PICK_CLAIM_TIMEOUT)=14400 "
            "must be shorter than PICK_TIMEOUT=14400: it would never fire before the final deadline.",
        )
    ]


def test_unknown_key_and_bad_email_are_refused(settings):
    assert messages(settings, CLAIM_TIMEOT=60, SHIFT_LEAD_EMAIL="lead") == [
        ("fulfillment.E101", "WAREHOUSE['CLAIM_TIMEOT'] is not a setting of the warehouse pages."),
        (
            "fulfillment.E105",
            "WAREHOUSE['SHIFT_LEAD_EMAIL'] (environment: SHIFT_LEAD_EMAIL)='lead' is not an email address.",
        ),
    ]


def test_bad_final_deadline_is_refused(settings):
    settings.PICK_TIMEOUT = 0
    assert messages(settings) == [
        ("fulfillment.E102", "PICK_TIMEOUT=0 must be a whole number of seconds, at least 1.")
    ]


def test_the_check_is_registered(settings):
    from django.core.checks import run_checks

    settings.WAREHOUSE = {"UNCLAIMED_AFTER": 0}
    assert "fulfillment.E103" in [error.id for error in run_checks()]
