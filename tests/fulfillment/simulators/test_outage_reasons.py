"""Switching a simulated service off asks why; the board says it beside who and since when."""

from datetime import UTC, datetime

import pytest
from django.contrib.auth.models import User

from fulfillment.simulators.models import Outage
from fulfillment.simulators.outages import outage_set, service_down
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
