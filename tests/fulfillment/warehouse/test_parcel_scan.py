"""A worker scans a return parcel in: the return goes on to inspection. An unknown number, a
parcel scanned twice or one of a closed return is told in words and changes nothing."""

import pytest
from django.test import Client
from django.urls import reverse

from fulfillment.models import ReturnState, Warehouse
from fulfillment.returns.requests import return_cancel
from processes import clock
from processes.models.journal import ActorType, ProcessEvent
from tests.conftest import ENGINE_DB
from tests.fulfillment.warehouse.conftest import client_for
from tests.fulfillment.warehouse.return_fixtures import short
from tests.return_factories import CLIENT, drive_return

pytestmark = ENGINE_DB
SCAN = reverse("warehouse:parcel_scan")


def tracking(ret) -> str:
    return ret.labels.get(voided_at__isnull=True).tracking_number


def state(ret) -> str:
    ret.refresh_from_db()
    return ret.state


def test_the_page_asks_for_the_tracking_number(alice):
    html = client_for(alice).get(SCAN).content.decode()
    assert "Scan a return parcel" in html and 'name="tracking_number"' in html


@pytest.mark.parametrize("typed", ["{}", "  {}  ", "{lower}"], ids=["scanned", "with-spaces", "lower-case"])
def test_a_scanned_parcel_sends_its_return_to_inspection(awaiting_parcel, alice, typed):
    number = tracking(awaiting_parcel)
    client = client_for(alice)
    response = client.post(SCAN, {"tracking_number": typed.format(number, lower=number.lower())})

    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert f"Parcel {number} received: return {short(awaiting_parcel)} goes to inspection." in page
    assert reverse("warehouse:inspection", args=[awaiting_parcel.pk]) in page
    assert state(awaiting_parcel) == ReturnState.PARCEL_RECEIVED
    label = awaiting_parcel.labels.get()
    assert label.received_at is not None and label.received_by == "alice"
    event = ProcessEvent.objects.get(process_id=awaiting_parcel.pk, transition="mark_parcel_received")
    assert (event.actor_type, event.actor) == (ActorType.WORKER, "alice")


def test_scanning_it_again_says_it_was_already_received(awaiting_parcel, alice):
    client = client_for(alice)
    client.post(SCAN, {"tracking_number": tracking(awaiting_parcel)})
    received_at = awaiting_parcel.labels.get().received_at

    response = client.post(SCAN, {"tracking_number": tracking(awaiting_parcel)}, follow=True)

    assert "was already received at" in response.content.decode()
    assert awaiting_parcel.labels.get().received_at == received_at
    assert (
        ProcessEvent.objects.filter(process_id=awaiting_parcel.pk, transition="mark_parcel_received").count()
        == 1
    )


@pytest.mark.parametrize(
    ("typed", "status", "error"),
    [
        ("SP000000000000", 400, "No return of your warehouse has tracking number SP000000000000."),
        ("", 400, "Scan or type the tracking number on the parcel&#x27;s label."),
        ("S" * 65, 400, "That is longer than any tracking number"),
    ],
    ids=["unknown", "empty", "too-long"],
)
def test_a_number_that_is_no_return_of_ours_is_refused(awaiting_parcel, alice, typed, status, error):
    response = client_for(alice).post(SCAN, {"tracking_number": typed})

    assert response.status_code == status
    assert error in response.content.decode()
    assert state(awaiting_parcel) == ReturnState.AWAITING_PARCEL


def test_another_warehouses_parcel_is_unknown_here(awaiting_parcel, make_worker):
    nina = make_worker("nina", warehouse=Warehouse.objects.create(code="NORTH", name="North"))
    response = client_for(nina).post(SCAN, {"tracking_number": tracking(awaiting_parcel)})
    assert response.status_code == 400
    assert "No return of your warehouse has tracking number" in response.content.decode()
    assert state(awaiting_parcel) == ReturnState.AWAITING_PARCEL


def test_the_parcel_of_a_cancelled_return_is_put_aside(awaiting_parcel, alice):
    number = tracking(awaiting_parcel)
    with clock.frozen():
        return_cancel(ret=awaiting_parcel, actor=CLIENT, reason="changed my mind")
        assert drive_return(awaiting_parcel).state == ReturnState.CANCELLED

    response = client_for(alice).post(SCAN, {"tracking_number": number})

    assert response.status_code == 409
    html = response.content.decode()
    assert f"Return {short(awaiting_parcel)} is cancelled: it no longer waits for a parcel." in html
    assert "Put the parcel aside for an operator." in html
    assert awaiting_parcel.labels.get().received_at is None


def test_strangers_and_other_roles_cannot_scan(awaiting_parcel, make_worker):
    anonymous = Client().post(SCAN, {"tracking_number": tracking(awaiting_parcel)})
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("warehouse:login"))
    olga = make_worker("olga", group=False)
    assert client_for(olga).post(SCAN, {"tracking_number": tracking(awaiting_parcel)}).status_code == 403
    assert client_for(olga).get(reverse("warehouse:inspection", args=[awaiting_parcel.pk])).status_code == 403
    assert state(awaiting_parcel) == ReturnState.AWAITING_PARCEL
