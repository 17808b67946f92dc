"""The outage board: switching a service off asks why, the board says it beside who and since
when, and once the service is back it still shows the last outage and what it refused."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User

from fulfillment.gateways import ServiceUnavailable
from fulfillment.simulators.carrier import CarrierSimulator
from fulfillment.simulators.models import Outage
from fulfillment.simulators.outages import outage_board, outage_set, service_down
from processes import clock
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB

START = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)
BOARD = "/admin/simulators/outage/"


@pytest.fixture
def admin_client(client):
    client.force_login(User.objects.create_superuser("olga", "o@example.com", "pw"))
    return client


def test_the_board_shows_who_took_a_service_down_since_when_and_why(admin_client):
    with clock.frozen(START):
        answer = admin_client.post(f"{BOARD}carrier/switch/", {"on": "1", "reason": "  carrier rehearsal  "})
        board = admin_client.get(BOARD).content.decode()

    assert answer.status_code == 302 and service_down("carrier")
    assert Outage.objects.get().reason == "carrier rehearsal"
    assert "down</strong> since 2026-12-06 10:00:00 UTC by olga: " in board
    assert "carrier rehearsal" in board


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_taking_a_service_down_without_a_reason_is_refused_and_changes_nothing(admin_client, reason):
    data = {"on": "1"} if reason is None else {"on": "1", "reason": reason}

    answer = admin_client.post(f"{BOARD}carrier/switch/", data, follow=True)

    assert answer.status_code == 200
    refusal = "Carrier is still up: say why you take it down (a reason is required)."
    assert refusal in answer.content.decode()
    assert not service_down("carrier") and not Outage.objects.exists()


def test_a_reason_too_long_is_refused_and_changes_nothing(admin_client):
    answer = admin_client.post(f"{BOARD}carrier/switch/", {"on": "1", "reason": "x" * 301}, follow=True)

    assert "Carrier was not switched: the reason must be text of at most 300 characters." in (
        answer.content.decode()
    )
    assert not Outage.objects.exists()


def test_bringing_a_service_back_needs_no_reason_and_keeps_the_outage_s(admin_client):
    admin_client.post(f"{BOARD}carrier/switch/", {"on": "1", "reason": "carrier rehearsal"})

    admin_client.post(f"{BOARD}carrier/switch/", {"on": "0"})

    outage = Outage.objects.get()
    assert not service_down("carrier") and outage.reason == "carrier rehearsal"


def test_code_that_switches_without_a_reason_gets_one_naming_who_switched():
    """The soak, chaos and tests call outage_set directly; the row still says why."""
    assert outage_set(service="mail", on=True, by="chaos").reason == "switched by chaos"
    assert outage_set(service="payment", on=True).reason == "switched by a script"
    assert outage_set(service="carrier", on=True, by="soak", reason="the soak's outage").reason == (
        "the soak's outage"
    )


def label(n: int):
    return CarrierSimulator().create_label(
        reference=str(n), address={"country": "DE"}, weight_grams=500, idempotency_key=f"label-{n}"
    )


def refused_labels(*numbers: int) -> None:
    for n in numbers:
        with pytest.raises(ServiceUnavailable):
            label(n)


def carrier_row():
    return next(row for row in outage_board() if row.service == "carrier")


def test_calls_refused_in_an_outage_are_still_shown_once_the_service_is_back(admin_client):
    """From, to, how many it refused and why: the figure no longer resets when the service comes up."""
    with clock.frozen(START):
        admin_client.post(f"{BOARD}carrier/switch/", {"on": "1", "reason": "carrier rehearsal"})
        refused_labels(1, 2, 3)
        clock.advance(60)
        admin_client.post(f"{BOARD}carrier/switch/", {"on": "0"})
        clock.advance(5)
        label(4)  # up again: not refused, not counted
        row, board = carrier_row(), admin_client.get(BOARD).content.decode()

    assert (row.down, row.refused_in_outage) == (False, 3)
    assert row.last_outage == (START, START + timedelta(seconds=60))
    assert "last outage 2026-12-06 10:00:00 UTC to 2026-12-06 10:01:00 UTC: carrier rehearsal" in board


def test_an_outage_that_ran_to_its_end_time_is_the_last_outage():
    with clock.frozen(START):
        outage_set(service="carrier", on=True, by="soak", until=START + timedelta(minutes=10))
        refused_labels(1, 2)
        clock.advance(11 * 60)
        label(3)
        row = carrier_row()

    assert row.last_outage == (START, START + timedelta(minutes=10)) and row.refused_in_outage == 2


def test_a_new_outage_counts_only_its_own_refusals():
    """The second outage starts its count at zero; while it lasts the board shows the current one."""
    with clock.frozen(START):
        outage_set(service="carrier", on=True)
        refused_labels(1, 2)
        clock.advance(60)
        outage_set(service="carrier", on=False)
        clock.advance(60)
        outage_set(service="carrier", on=True)
        assert (carrier_row().down, carrier_row().refused_in_outage, carrier_row().last_outage) == (
            True,
            0,
            None,
        )
        refused_labels(3)
        clock.advance(30)
        outage_set(service="carrier", on=False)
        row = carrier_row()

    assert row.refused_in_outage == 1
    assert row.last_outage == (START + timedelta(seconds=120), START + timedelta(seconds=150))


def test_a_service_never_down_has_no_last_outage(admin_client):
    assert carrier_row().last_outage is None and carrier_row().refused_in_outage == 0
    assert "outage-last" not in admin_client.get(BOARD).content.decode()
