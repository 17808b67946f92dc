"""The carrier's signed webhook: a `parcel.received` event goes through the engine's inbox, so
a retried event is a 200 that changes nothing; an unset secret, a bad signature, a body that is
not a good event and a label we do not know are each a clear JSON answer that changes nothing."""

import copy
import json

import pytest
from rest_framework.test import APIClient

from fulfillment.api.webhooks import signature_make
from fulfillment.models import Order, Return
from fulfillment.returns.workflow import RETURN_WORKFLOW
from processes import clock, runner
from processes.models.inbox import ProcessMessage
from processes.models.journal import ProcessEvent
from tests.api.conftest import ORDER_BODY, client_for, place
from tests.conftest import ENGINE_DB
from tests.factories import drive
from tests.return_factories import drive_return, request_return

pytestmark = ENGINE_DB

SECRET = "whsec_carrier_test"
WEBHOOK = "/api/webhooks/carrier/"


@pytest.fixture
def carrier_secret(settings):
    settings.CARRIER_WEBHOOK_SECRET = SECRET


@pytest.fixture
def order(catalogue):
    with clock.frozen():
        yield drive(Order.objects.get(pk=place(client_for("shop"), copy.deepcopy(ORDER_BODY)).json()["id"]))


@pytest.fixture
def waiting(order):
    """A return of one mug waiting for its parcel."""
    ret = drive_return(request_return(order, ("MUG-001", 1)), parcel=False)
    assert (ret.state, ret.step, ret.run_status) == ("awaiting_parcel", "await_parcel", "waiting")
    return ret


def post(raw: bytes, *, secret: str = SECRET, header: str | None = None):
    if header is None:
        header = signature_make(body=raw, secret=secret, timestamp=int(clock.now().timestamp()))
    return APIClient().post(WEBHOOK, raw, content_type="application/json", HTTP_X_SIGNATURE=header)


def parcel_event(ret: Return, event_id: str = "evt_1") -> dict:
    label = ret.labels.get(voided_at__isnull=True)
    return {"id": event_id, "type": "parcel.received", "tracking_number": label.tracking_number}


def send(event: dict, **kwargs):
    return post(json.dumps(event).encode(), **kwargs)


def footprint(ret: Return) -> tuple:
    """Everything a delivery could change: the return's row, its journal, the inbox."""
    ret.refresh_from_db()
    label = ret.labels.order_by("id").last()
    return (
        ret.state,
        ret.run_status,
        ret.next_run_at,
        label.received_at if label else None,
        ProcessEvent.objects.filter(process_id=ret.pk).count(),
        ProcessMessage.objects.count(),
    )


def test_a_parcel_event_is_kept_in_the_inbox_and_moves_the_return_on(carrier_secret, waiting):
    response = send(parcel_event(waiting))

    assert response.status_code == 200 and response.json() == {"status": "delivered"}
    message = ProcessMessage.objects.get()
    assert (message.process_id, message.name, message.dedup_key) == (
        waiting.pk,
        "parcel.received",
        "carrier:evt_1",
    )
    assert message.consumed_at is not None
    waiting.refresh_from_db()
    assert (waiting.state, waiting.step) == ("parcel_received", "inspect")
    assert waiting.labels.get().received_by == "carrier-webhook"
    notes = ProcessEvent.objects.filter(process_id=waiting.pk, kind="note").values_list("reason", flat=True)
    assert "received parcel.received: carrier event evt_1" in list(notes)


def test_a_retried_event_answers_200_and_changes_nothing(carrier_secret, waiting):
    """The carrier retries an event it thinks we missed: the inbox knows its id."""
    event = parcel_event(waiting)
    send(event)
    drive_return(waiting, judge=None)  # on to inspection: the retry must not touch it
    before = footprint(waiting)

    again = send(event)

    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert footprint(waiting) == before


def test_a_second_event_about_a_received_parcel_changes_nothing(carrier_secret, waiting):
    """Another event id for the same parcel (the carrier scanned it twice) is a duplicate too."""
    send(parcel_event(waiting, "evt_1"))
    before_state = footprint(waiting)[:4]

    other = send(parcel_event(waiting, "evt_2"))

    assert other.status_code == 200 and other.json() == {"status": "duplicate"}
    assert footprint(waiting)[:4] == before_state


def test_an_event_that_outruns_the_wait_settles_it_when_it_comes(carrier_secret, order):
    """The label is made but the return does not wait for its parcel yet: the event stamps the
    label received, and `await_parcel` goes straight on when it runs."""
    ret = request_return(order, ("MUG-001", 1))
    for _ in range(5):  # one step at a time, as a worker's chain of one would
        ret.refresh_from_db()
        if ret.state == "label_created":
            break
        claim = runner.claim_step(RETURN_WORKFLOW, ret.pk, "worker-1")
        if isinstance(claim, runner.Claim):
            runner.apply_outcome(claim, runner.perform(claim))
    assert (ret.state, ret.step, ret.run_status) == ("label_created", "await_parcel", "ready")

    assert send(parcel_event(ret)).json() == {"status": "delivered"}

    ret = drive_return(ret, parcel=False, judge=None)
    assert (ret.state, ret.step, ret.run_status) == ("inspecting", "inspect", "waiting")
    assert ret.labels.get().received_by == "carrier-webhook"


def test_an_event_for_a_closed_return_is_kept_for_a_person_and_changes_nothing(carrier_secret, waiting):
    event = parcel_event(waiting)
    client_for("shop").post(f"/api/returns/{waiting.pk}/cancel/", {"reason": "kept it"}, format="json")
    ret = drive_return(waiting)
    assert ret.state == "cancelled"

    response = send(event)

    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    ret.refresh_from_db()
    assert ret.state == "cancelled" and ret.labels.get().received_at is None
    assert ProcessMessage.objects.get().consumed_at is None  # in its journal, for a person


def test_without_the_secret_every_carrier_event_is_refused(settings, waiting):
    settings.CARRIER_WEBHOOK_SECRET = ""
    before = footprint(waiting)

    response = send(parcel_event(waiting), secret="anything")

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_signature",
        "detail": "These webhooks are not configured here (CARRIER_WEBHOOK_SECRET is unset).",
    }
    assert footprint(waiting) == before


@pytest.mark.parametrize(
    ("make_request", "code", "text"),
    [
        (lambda event: send(event, secret="not-the-secret"), "invalid_signature", "does not match"),
        (lambda event: send(event, header=""), "invalid_signature", "X-Signature must look like"),
        (lambda event: post(b"\xff not json"), "parse_error", ""),
        (lambda event: post(b"[1, 2]"), "invalid", ""),
        (lambda event: send({**event, "type": "parcel.lost"}), "invalid", "type"),
        (lambda event: send({k: v for k, v in event.items() if k != "id"}), "invalid", "id"),
        (lambda event: send({**event, "tracking_number": 12345}), "invalid", "tracking_number"),
        (lambda event: send({**event, "id": "evt\x00"}), "invalid", "Null characters"),
    ],
)
def test_a_bad_event_is_a_clear_400_that_changes_nothing(carrier_secret, waiting, make_request, code, text):
    before = footprint(waiting)

    response = make_request(parcel_event(waiting))

    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == code and text in json.dumps(response.json())
    assert footprint(waiting) == before


def test_an_unknown_tracking_number_is_answered_and_ignored(carrier_secret, waiting):
    """Not ours to act on, and nothing the carrier could fix by retrying: a 200 that says so."""
    before = footprint(waiting)

    response = send({**parcel_event(waiting), "tracking_number": "SP000000000000"})

    assert response.status_code == 200 and response.json() == {"status": "ignored"}
    assert footprint(waiting) == before
