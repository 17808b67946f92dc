"""`manage.py check_invariants` prints every invariant with its count and fails on a violation."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fulfillment.models import Order
from fulfillment.proving.invariants import INVARIANTS
from processes import clock
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order

pytestmark = ENGINE_DB


@pytest.fixture
def completed(catalogue):
    with clock.frozen():
        return drive(place_order())


def test_healthy_database_passes(completed):
    out = StringIO()
    call_command("check_invariants", stdout=out)

    text = out.getvalue()
    assert "1 orders, 0 in flight" in text
    assert all(f"ok       {invariant.name}" in text for invariant in INVARIANTS)
    assert f"All {len(INVARIANTS)} invariants hold." in text


def test_violation_is_printed_and_fails_the_command(completed):
    Order.objects.filter(pk=completed.pk).update(state="picked")  # behind the FSM's back
    out = StringIO()

    with pytest.raises(CommandError, match="invariants violated: .*journal_disagrees_with_state"):
        call_command("check_invariants", stdout=out)

    line = next(line for line in out.getvalue().splitlines() if "journal_disagrees_with_state" in line)
    assert line.split()[:3] == ["VIOLATED", "journal_disagrees_with_state", "1"]
    assert str(completed.pk) in line


def test_json_report(completed):
    Order.objects.filter(pk=completed.pk).update(next_run_at=None, run_status="ready")
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("check_invariants", "--json", "--grace", "60", stdout=out)

    report = json.loads(out.getvalue())
    assert (report["ok"], report["orders"], report["in_flight"], report["grace"]) == (False, 1, 1, 60.0)
    assert report["invariants"]["unfinished_without_wakeup"] == {
        "violations": 1,
        "examples": [str(completed.pk)],
    }
    assert set(report["invariants"]) == {invariant.name for invariant in INVARIANTS}
