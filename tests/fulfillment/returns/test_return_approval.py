"""A return above the approval threshold waits for an operator, at most RETURN_APPROVAL_TIMEOUT
(seven days by default): then the sweeper wakes it and it needs attention, with the alert."""

from datetime import timedelta
from decimal import Decimal

from django_q.models import OrmQ

from fulfillment.models import Return, ReturnState
from fulfillment.simulators.carrier import labels
from processes import clock
from processes.control import process_signal
from processes.models.outbox import OutboxMessage
from processes.models.process import RunStatus
from processes.sweeper import sweep_once
from tests.conftest import ENGINE_DB
from tests.factories import payment_ledger
from tests.return_factories import CLIENT, completed_order, drive_return, request_return

pytestmark = ENGINE_DB

SEVEN_DAYS = timedelta(days=7)


def waiting_for_approval(settings) -> Return:
    settings.RETURN_APPROVAL_THRESHOLD = Decimal("10.00")  # a 12.50 mug needs an operator
    ret = drive_return(request_return(completed_order(), ("MUG-001", 1)))
    assert (ret.state, ret.step, ret.run_status) == (ReturnState.REQUESTED, "approve", RunStatus.WAITING)
    return ret


def woken_returns() -> list[str]:
    return [
        message.task["args"][1]
        for message in OrmQ.objects.all()
        if message.task["args"][0] == "fulfillment.return"
    ]


def test_an_unapproved_return_needs_attention_after_seven_days_with_one_alert(catalogue, settings):
    """At the production default: still waiting a second before the seventh day ends, then
    woken by the sweeper, flagged with why, the operators alerted once; nothing was labelled."""
    assert settings.RETURN_APPROVAL_TIMEOUT == 7 * 24 * 3600
    with clock.frozen():
        ret = waiting_for_approval(settings)
        deadline = clock.now() + SEVEN_DAYS
        assert ret.deadline_at == deadline
        OrmQ.objects.all().delete()

        clock.advance(SEVEN_DAYS - timedelta(seconds=1))
        sweep_once()
        assert woken_returns() == []

        clock.advance(timedelta(seconds=2))
        sweep_once()
        assert woken_returns() == [str(ret.pk)]
        ret = drive_return(ret)
        drive_return(ret)  # a later wake-up finds nothing more to do

    assert ret.needs_attention and ret.state == ReturnState.REQUESTED and ret.step == "approve"
    # The deadline as the journal words it (the engine's time format is not this test's concern).
    assert ret.attention_reason.startswith("approve was not done by its deadline ")
    assert f"{deadline:%Y-%m-%d}" in ret.attention_reason and f"{deadline:%H:%M:%S}" in ret.attention_reason
    assert OutboxMessage.objects.filter(process_id=ret.pk, kind="attention").count() == 1
    assert labels(str(ret.pk)) == {"live": 0, "voided": 0}
    assert payment_ledger(ret.order)["refunds"] == 0


def test_an_operator_approving_in_time_sends_it_on(catalogue, settings):
    with clock.frozen():
        ret = waiting_for_approval(settings)
        clock.advance(SEVEN_DAYS - timedelta(minutes=1))
        process_signal(
            model=Return, process_id=ret.pk, step="approve", payload={"by": "ops"}, actor=CLIENT, reason="ok"
        )
        ret = drive_return(ret)

    assert ret.state == ReturnState.COMPLETED and ret.approved_by == "ops" and not ret.needs_attention
    assert payment_ledger(ret.order)["refunded"] == Decimal("12.50")
