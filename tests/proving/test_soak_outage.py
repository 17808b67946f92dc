"""A short soak with the carrier down for a stretch ends with every order at rest, no invariant
violated, and the carrier's own records counting the calls it refused meanwhile.

Right whether or not the label step has a circuit breaker: without one, orders that reach it
during the outage use up their retries and are cancelled with everything undone (or flagged);
with one, they wait and complete once the carrier is back.
"""

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Max, Min

from fulfillment.models import Order
from fulfillment.proving.invariants import INVARIANTS, invariants_check
from fulfillment.proving.soak_report import SoakReport
from fulfillment.simulators.models import LabelRecord, Outage, ReceivedCall, RefusedCall
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB

ORDERS = 30
OUTAGE_SECONDS = 10
# No kills: a killed step waits out its lease (25 s), which the other soaks already cover.
SOAK = ["--orders", str(ORDERS), "--workers", "3", "--kill-every", "0", "--faults", "outage"]
# About 25 s without a circuit breaker; with one, its cool-down comes on top: 3 s here instead
# of 30 (and 6 s at most instead of 5 min), so the probes come while the carrier is still down.
SOAK += ["--outage-seconds", str(OUTAGE_SECONDS), "--timeout", "120", "--seed", "13"]
SHORT_COOLDOWN = {"CIRCUIT_COOLDOWN": "3", "CIRCUIT_COOLDOWN_CAP": "6"}


@pytest.mark.cluster
def test_short_soak_with_the_carrier_down_for_a_stretch(run_soak):
    """30 orders, the carrier down for 10 s once a fifth of them are done."""
    report = run_soak(*SOAK, timeout=180, REDELIVER_AFTER="5", **SHORT_COOLDOWN)

    assert report["violations"] == {invariant.name: 0 for invariant in INVARIANTS}, report
    figures = report["placed"], report["lost"], report["in_flight"], report["timed_out"]
    assert figures == (ORDERS, 0, 0, False)
    assert report["completed"] + report["cancelled"] + report["needs_attention"] == ORDERS
    assert report["ok"] and report["exit_status"] == 0
    outage = report["outage"]
    assert outage["service"] == "carrier" and outage["began"], outage
    assert OUTAGE_SECONDS <= outage["seconds"] < OUTAGE_SECONDS + 5
    assert outage["refused_total"] > 0 and set(outage["refused"]) <= {"create_label", "void_label"}
    assert all(ids == [] for ids in invariants_check(orders=Order.objects.all()).values())
    assert_nothing_labelled_during_the_outage()
    assert not Outage.objects.get(service="carrier").on


def assert_nothing_labelled_during_the_outage() -> None:
    """No call the carrier received while it was down made a label: every label made between
    its first and last refusal was asked for before the first (a call that found the carrier
    up a moment before it went down still ends; under load that moment can stretch)."""
    window = RefusedCall.objects.filter(reason="outage").aggregate(first=Min("at"), last=Max("at"))
    assert window["first"] is not None
    made_then = LabelRecord.objects.filter(created_at__range=(window["first"], window["last"]))
    for label in made_then:
        asked = ReceivedCall.objects.filter(
            operation="create_label", idempotency_key=label.idempotency_key, at__lte=label.created_at
        ).aggregate(last=Max("at"))["last"]
        assert asked is not None and asked < window["first"], (label, asked, window)


@pytest.mark.parametrize(
    "args",
    [
        ["--faults", "heavy", "--outage-service", "mail"],
        ["--faults", "default", "--outage-seconds", "5"],
        ["--faults", "outage", "--outage-seconds", "0"],
        ["--faults", "outage", "--outage-seconds", "900", "--timeout", "600"],
    ],
)
def test_outage_options_out_of_place_are_refused_before_anything_starts(args):
    with pytest.raises(CommandError, match="--outage-s"):
        call_command("soak", "--orders", "1", *args)
    assert not Order.objects.exists() and not Outage.objects.exists()


def test_the_report_prints_the_calls_refused_during_the_outage():
    report = SoakReport(broker="orm", clusters=1, workers=2, faults="outage", seed=0)
    report.violations = {invariant.name: [] for invariant in INVARIANTS}
    report.outage = {
        "service": "carrier",
        "began": True,
        "began_after_seconds": 5.0,
        "seconds": 30.2,
        "refused": {"create_label": 40, "void_label": 2},
        "refused_total": 42,
    }

    lines = report.lines()

    assert "  outage               carrier down 30.2s from 5s" in lines
    assert "  refused in outage    42 (40 create_label, 2 void_label)" in lines
