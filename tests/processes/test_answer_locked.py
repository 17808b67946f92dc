"""An event from outside may answer a wait in the transaction that holds the process's row lock
(a workflow's `on_message` hook): the same answer as a person's, journalled with its reason, or
nothing at all when the process does not wait on that step."""

from django.db import transaction

from fulfillment.models import Return
from processes import clock, journal
from processes.control import process_answer_locked
from processes.journal import Actor
from processes.models.journal import ActorType, EventKind, ProcessEvent
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.return_factories import completed_order, drive_return, request_return

pytestmark = ENGINE_DB
CARRIER = Actor(ActorType.SYSTEM, "carrier")


def answer(ret: Return, step: str) -> bool:
    with transaction.atomic(), journal.acting(CARRIER, "event"):
        locked = Return.objects.select_for_update().get(pk=ret.pk)
        tracking = locked.labels.get().tracking_number
        answered = process_answer_locked(
            locked, step=step, payload={"tracking_number": tracking, "by": "carrier"}, reason="parcel in"
        )
        locked.save()
    return answered


def test_a_waiting_process_is_answered_and_goes_on(catalogue):
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("MUG-001", 1)), parcel=False)

        assert answer(ret, "await_parcel") is True

    ret.refresh_from_db()
    assert (ret.state, ret.step, ret.run_status) == ("parcel_received", "inspect", RunStatus.READY)
    assert ret.next_run_at is not None
    event = ProcessEvent.objects.filter(process_id=ret.pk, kind=EventKind.TRANSITION).last()
    assert (event.to_state, event.reason, event.step, event.actor) == (
        "parcel_received",
        "parcel in",
        "await_parcel",
        "carrier",
    )


def test_a_process_not_waiting_on_the_step_is_left_as_it_was(catalogue):
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("MUG-001", 1)), parcel=False)
        before = ProcessEvent.objects.filter(process_id=ret.pk).count()

        assert answer(ret, "inspect") is False

    ret.refresh_from_db()
    assert (ret.state, ret.step, ret.run_status) == ("awaiting_parcel", "await_parcel", RunStatus.WAITING)
    assert ProcessEvent.objects.filter(process_id=ret.pk).count() == before
