"""The demo's simulated carrier and inspector take a return from its label to completed on
their own, at their default delays, and leave alone what a person or a cancel got to first."""

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.management import call_command

from fulfillment.models import InspectionTask, ReturnLine, ReturnState
from fulfillment.returns.inspection import LineVerdict, inspection_complete
from fulfillment.returns.requests import return_cancel
from fulfillment.simulators.returns import (
    SIMULATED_INSPECTOR,
    simulated_carrier_run,
    simulated_inspector_run,
)
from processes import clock
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.factories import payment_ledger
from tests.return_factories import CLIENT, INSPECTOR, completed_order, drive_return, request_return

pytestmark = ENGINE_DB
SECOND = timedelta(seconds=1)


def waiting_for_parcel(*units):
    order = completed_order()
    ret = drive_return(request_return(order, *units), parcel=False)
    assert (ret.step, ret.run_status) == ("await_parcel", RunStatus.WAITING)
    return order, ret


def test_carrier_and_inspector_complete_a_return_at_their_default_delays(catalogue):
    """Nothing happens before each delay; after them the return is refunded exactly the line's
    amount against the order's charge, its unit is back on hand and the customer confirmed."""
    carrier, inspector = settings.SIMULATED_CARRIER_DELAY, settings.SIMULATED_INSPECTOR_DELAY
    assert (carrier, inspector) == (30.0, 60.0)  # the defaults `make run` uses
    with clock.frozen():
        order, ret = waiting_for_parcel(("MUG-001", 1))
        on_hand = catalogue.stock(catalogue.mug).on_hand

        clock.advance(timedelta(seconds=carrier) - SECOND)
        assert simulated_carrier_run(delay=carrier) == 0
        clock.advance(SECOND)
        assert simulated_carrier_run(delay=carrier) == 1
        ret = drive_return(ret, judge=None)
        assert ret.state == ReturnState.INSPECTING

        clock.advance(timedelta(seconds=inspector) - SECOND)
        assert simulated_inspector_run(delay=inspector) == 0
        clock.advance(SECOND)
        assert simulated_inspector_run(delay=inspector) == 1
        ret = drive_return(ret, judge=None)

    assert ret.state == ReturnState.COMPLETED and ret.run_status == RunStatus.FINISHED
    assert ret.labels.get().received_by == "simulated-carrier"
    assert ret.inspection.done_by.username == SIMULATED_INSPECTOR
    assert set(ret.lines.values_list("verdict", flat=True)) == {ReturnLine.Verdict.ACCEPTED}
    assert payment_ledger(order)["refunded"] == Decimal("12.50") == ret.refund.amount
    assert payment_ledger(order)["refunds"] == 1
    assert catalogue.stock(catalogue.mug).on_hand == on_hand + 1


def test_the_carrier_skips_a_cancelled_return(catalogue):
    with clock.frozen():
        _, ret = waiting_for_parcel(("MUG-001", 1))
        return_cancel(ret=ret, actor=CLIENT, reason="changed my mind")
        clock.advance(timedelta(minutes=5))
        assert simulated_carrier_run(delay=30) == 0
        ret = drive_return(ret)
    assert ret.state == ReturnState.CANCELLED
    assert ret.labels.get().received_at is None


def test_the_inspector_leaves_a_return_a_worker_judged_first(catalogue):
    """The worker rejected the tee: the inspector, coming after, changes nothing."""
    with clock.frozen():
        _, ret = waiting_for_parcel(("TEE-042", 1))
        simulated_carrier_run(delay=0)
        ret = drive_return(ret, judge=None)
        line = ret.lines.get()
        inspection_complete(ret=ret, verdicts=[LineVerdict(line.pk, False, "Worn")], actor=INSPECTOR)
        clock.advance(timedelta(minutes=5))
        assert simulated_inspector_run(delay=0) == 0
    line.refresh_from_db()
    assert (line.verdict, line.reject_reason) == (ReturnLine.Verdict.REJECTED, "Worn")
    assert InspectionTask.objects.get(ret=ret).done_by is None


def test_the_command_does_what_is_due_once(catalogue, capsys):
    with clock.frozen():
        _, ret = waiting_for_parcel(("MUG-001", 1))
        call_command("simulate_returns", "--once", "--carrier-delay", "0", "--inspector-delay", "0")
    assert "delivered 1 return parcel(s)" in capsys.readouterr().out
    ret.refresh_from_db()
    assert ret.labels.get().received_at is not None


def test_they_are_off_in_production():
    """DJANGO_ENV=production leaves both unset, so `serve` would not start them."""
    code = "import fulfillment.settings as s; print(s.SIMULATED_CARRIER_DELAY, s.SIMULATED_INSPECTOR_DELAY)"
    environment = {
        **os.environ,
        "DJANGO_ENV": "production",
        "SECRET_KEY": "k" + "0123456789abcdefghij" * 3,
        "ALLOWED_HOSTS": "example.com",
    }
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.split() == ["None", "None"], done.stderr
