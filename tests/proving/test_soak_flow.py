"""The soak's flow-control figures: how long orders waited on circuits, slowed steps and limits,
how many circuits opened, and the carrier's busiest second under a limit."""

from datetime import timedelta
from uuid import uuid4

import pytest
from django.core.management import CommandError, call_command

from fulfillment.models import Order
from fulfillment.proving.flow_waits import flow_waits
from fulfillment.proving.invariants import INVARIANTS
from fulfillment.proving.soak_report import SoakReport, report_flow
from processes import clock
from processes.models.flow import Circuit, CircuitEvent
from processes.models.journal import EventKind, ProcessEvent, StepAttempt

pytestmark = pytest.mark.django_db
LABEL = Order._meta.label_lower


def journal(process, step: str, at, reason: str) -> None:
    ProcessEvent.objects.create(
        process_type=LABEL,
        process_id=process,
        kind=EventKind.CIRCUIT,
        step=step,
        reason=reason,
        created_at=at,
    )


def call(process, step: str, at) -> None:
    StepAttempt.objects.create(
        process_type=LABEL, process_id=process, step=step, attempt=1, idempotency_key="k", started_at=at
    )


def test_each_wait_lasts_from_its_journal_line_to_the_next_call_at_its_step():
    start, held, paced, limited = clock.now(), uuid4(), uuid4(), uuid4()
    journal(held, "create_label", start, "create_label waits: its service is failing (...)")
    call(held, "create_label", start - timedelta(seconds=5))  # a call before the wait: not its end
    call(held, "create_label", start + timedelta(seconds=42))
    journal(paced, "charge_payment", start, "charge_payment slowed: 7 of the last 20 calls failed ...")
    call(paced, "charge_payment", start + timedelta(seconds=1.5))
    call(paced, "create_label", start + timedelta(seconds=0.5))  # another step: not its end
    journal(limited, "create_label", start, "create_label waits its turn under carrier: 5 calls per second")
    call(limited, "create_label", start + timedelta(seconds=0.4))

    waits = flow_waits([str(held), str(paced), str(limited)])

    assert waits == {
        "circuit": {"orders": 1, "longest": 42.0},
        "pace": {"orders": 1, "longest": 1.5},
        "limit": {"orders": 1, "longest": 0.4},
    }


def test_the_report_prints_circuits_waits_and_the_carriers_busiest_second():
    report = SoakReport(broker="redis", clusters=2, workers=2, faults="degraded", seed=7, carrier_limit=5)
    report.violations = {invariant.name: [] for invariant in INVARIANTS}
    report.circuits_opened = 0
    report.waits = {
        "circuit": {"orders": 0, "longest": 0.0},
        "pace": {"orders": 41, "longest": 7.3},
        "limit": {"orders": 120, "longest": 19.5},
    }
    report.carrier_busiest_second = 5

    lines = report.lines()

    assert "  circuits opened      0" in lines
    assert "  slowed-step waits    41 orders, longest 7.3s" in lines
    assert "  limit waits          120 orders, longest 19.5s" in lines
    assert "  carrier's busiest s  5 label calls (limit 5/s)" in lines
    assert not any("circuit waits" in line for line in lines)


def test_the_report_says_why_each_circuit_opened_during_the_run():
    """A soak that fails on a circuit explains itself: every circuit event since the run began,
    oldest first, with its seconds into the run and what the circuit read."""
    began = clock.now()
    circuit = Circuit.objects.create(process_type=LABEL, step="create_label", key="ACME")
    CircuitEvent.objects.create(
        circuit=circuit, kind="closed", detail="an earlier run's", created_at=began - timedelta(minutes=5)
    )
    why = "5 of the last 6 calls failed, for 5 of 6 orders (window 60s); next probe in 30s"
    for seconds, kind, detail in [(4.2, "opened", why), (34.3, "probe", "Order 1 tries the service")]:
        CircuitEvent.objects.create(
            circuit=circuit, kind=kind, detail=detail, created_at=began + timedelta(seconds=seconds)
        )
    report = SoakReport(broker="redis", clusters=2, workers=3, faults="heavy", seed=12)
    report.violations = {invariant.name: [] for invariant in INVARIANTS}

    report_flow(report, [], began)

    assert report.circuits_opened == 1
    assert report.circuit_history == [
        f"   4.2s create_label · ACME opened: {why}",
        "  34.3s create_label · ACME probe: Order 1 tries the service",
    ]
    assert f"       4.2s create_label · ACME opened: {why}" in report.lines()
    assert report.as_dict()["circuit_history"] == report.circuit_history


@pytest.mark.parametrize("limit", ["-1", "nan", "20000", "five"])
def test_a_bad_carrier_limit_is_refused_before_anything_starts(limit):
    with pytest.raises(CommandError, match="--carrier-limit"):
        call_command("soak", "--orders", "1", "--carrier-limit", limit)
    assert not Order.objects.exists()
