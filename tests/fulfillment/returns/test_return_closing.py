"""A return closed before its parcel arrives (cancelled, refused, or no parcel by its deadline)
voids its label and tells the customer once; after the parcel arrives it cannot be cancelled."""

from datetime import timedelta

import pytest

from fulfillment.errors import ReturnNotAllowed
from fulfillment.models import Notification, Return, ReturnState
from fulfillment.returns.requests import return_cancel
from fulfillment.simulators.carrier import labels
from fulfillment.simulators.models import SentMail
from processes import clock
from processes.control import process_signal, process_wait_failed
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.factories import payment_ledger
from tests.return_factories import CLIENT, completed_order, drive_return, request_return

pytestmark = ENGINE_DB


def closed_mails(ret) -> int:
    return SentMail.objects.filter(
        message_id=f"<return-{ret.pk}.return_closed@fulfillment.localhost>"
    ).count()


def test_no_parcel_by_the_deadline_closes_the_return_and_tells_the_customer(catalogue, settings):
    settings.RETURN_PARCEL_DEADLINE_DAYS = 14
    with clock.frozen():
        order = completed_order()
        ret = drive_return(request_return(order, ("MUG-001", 1)), parcel=False)
        assert (ret.state, ret.run_status) == (ReturnState.AWAITING_PARCEL, RunStatus.WAITING)
        assert ret.deadline_at == clock.now() + timedelta(days=14)
        clock.advance(timedelta(days=14, seconds=1))
        ret = drive_return(ret, parcel=False)

    assert ret.state == ReturnState.CANCELLED and ret.run_status == RunStatus.FINISHED
    assert labels(str(ret.pk)) == {"live": 0, "voided": 1}
    assert ret.labels.get().voided_at is not None
    assert closed_mails(ret) == 1
    assert Notification.objects.filter(order=order, kind="return_closed").count() == 1
    assert payment_ledger(order)["refunds"] == 0


def test_a_client_cancel_while_waiting_for_the_parcel_voids_the_label(catalogue):
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("MUG-001", 1)), parcel=False)
        return_cancel(ret=ret, actor=CLIENT, reason="changed my mind")
        ret = drive_return(ret)

    assert ret.state == ReturnState.CANCELLED
    assert labels(str(ret.pk)) == {"live": 0, "voided": 1}
    assert closed_mails(ret) == 1


def test_once_the_parcel_arrived_a_cancel_is_refused_and_changes_nothing(catalogue):
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("MUG-001", 1)), judge=None)
        assert ret.state == ReturnState.INSPECTING
        with pytest.raises(ReturnNotAllowed, match="being inspected: it can no longer be cancelled"):
            return_cancel(ret=ret, actor=CLIENT, reason="too late")

    ret.refresh_from_db()
    assert ret.state == ReturnState.INSPECTING and ret.run_status == RunStatus.WAITING
    assert labels(str(ret.pk)) == {"live": 1, "voided": 0}


def test_above_the_threshold_an_operator_approves(catalogue, settings):
    """A return worth more than RETURN_APPROVAL_THRESHOLD waits at its approval; an operator's
    approval sends it on."""
    settings.RETURN_APPROVAL_THRESHOLD = 10
    operator = CLIENT.__class__("operator", "olga")
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("MUG-001", 1)))
        assert (ret.state, ret.step, ret.run_status) == (ReturnState.REQUESTED, "approve", RunStatus.WAITING)
        process_signal(
            model=Return,
            process_id=ret.pk,
            step="approve",
            payload={"by": "olga"},
            actor=operator,
            reason="ok",
        )
        ret = drive_return(ret)

    assert ret.state == ReturnState.COMPLETED and ret.approved_by == "olga"


def test_an_operator_refusing_approval_cancels_the_return_with_no_label(catalogue, settings):
    settings.RETURN_APPROVAL_THRESHOLD = 10
    operator = CLIENT.__class__("operator", "olga")
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("MUG-001", 1)))
        process_wait_failed(model=Return, process_id=ret.pk, step="approve", actor=operator, reason="abuse")
        ret = drive_return(ret)

    assert ret.state == ReturnState.CANCELLED
    assert labels(str(ret.pk)) == {"live": 0, "voided": 0}
