"""The simulators' outage switch: while a service is down every call to it is refused before any
effect and counted on the service's own records; after it, calls work again."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.core.mail import EmailMessage
from django.db import connections

from fulfillment.environment import env_shares
from fulfillment.gateways import ServiceUnavailable
from fulfillment.simulators.calls import calls_received, calls_refused
from fulfillment.simulators.carrier import CarrierSimulator
from fulfillment.simulators.conf import SERVICES, check_simulator_settings
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.mailbox import mail_deliver
from fulfillment.simulators.models import (
    ChargeRecord,
    FaultRule,
    IdempotencyRecord,
    LabelRecord,
    Outage,
    RefusedCall,
    SentMail,
    Service,
)
from fulfillment.simulators.outages import outage_set, service_down
from fulfillment.simulators.payment import PaymentGatewaySimulator
from processes import clock
from tests.conftest import ENGINE_DB

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
BOARD = "/admin/simulators/outage/"


def label(n: int = 1):
    return CarrierSimulator().create_label(
        reference=str(n), address={"country": "DE"}, weight_grams=500, idempotency_key=f"label-{n}"
    )


def charge(n: int = 1):
    return PaymentGatewaySimulator().charge(
        amount=Decimal("10.00"), currency="EUR", token="tok_ok", reference=str(n), idempotency_key=f"ch-{n}"
    )


def mail(n: int = 1):
    message = EmailMessage("Your order", "Thanks", "shop@example.com", ["c@example.com"])
    message.extra_headers.update({"Message-ID": f"<order-{n}@example.com>", "X-Reference": str(n)})
    return mail_deliver(message)


CALLS = {"carrier": label, "payment": charge, "mail": mail}
EFFECTS = {"carrier": LabelRecord, "payment": ChargeRecord, "mail": SentMail}


@ENGINE_DB
@pytest.mark.parametrize("service", SERVICES)
def test_switched_on_outage_refuses_every_call_before_any_effect(service):
    """Each service refuses as unavailable, saying it is an outage; nothing is done or stored."""
    outage_set(service=service, on=True, by="test")

    with pytest.raises(ServiceUnavailable, match=r"unavailable \(outage\)"):
        CALLS[service]()

    assert not EFFECTS[service].objects.exists() and not IdempotencyRecord.objects.exists()
    assert RefusedCall.objects.get().reason == RefusedCall.Reason.OUTAGE


@ENGINE_DB
def test_sim_outage_setting_takes_a_service_down_and_leaves_the_others(settings):
    """SIMULATORS['OUTAGE'] (SIM_OUTAGE) refuses the carrier's calls with no switch in the database."""
    settings.SIMULATORS = {"OUTAGE": ["carrier"]}

    with pytest.raises(ServiceUnavailable, match="carrier.create_label: unavailable"):
        label()
    charge()

    assert not Outage.objects.exists() and not LabelRecord.objects.exists()
    assert ChargeRecord.objects.count() == 1
    assert calls_refused("carrier", reason="outage") == {"create_label": 1}


@ENGINE_DB
def test_the_carrier_records_each_call_it_refused_during_the_outage():
    """Refused calls are kept with operation, order, key and the engine clock's time."""
    with clock.frozen(START):
        outage_set(service="carrier", on=True, by="test")
        for n in range(3):
            clock.advance(60)
            with pytest.raises(ServiceUnavailable):
                label(n)
        with pytest.raises(ServiceUnavailable):
            CarrierSimulator().void_label(label_key="label-0", reference="0", idempotency_key="void-0")
        ended = clock.advance(60)
        outage_set(service="carrier", on=False, by="test")
        label(9)

    during = calls_refused("carrier", reason="outage", since=START, until=ended)
    assert during == {"create_label": 3, "void_label": 1}
    assert calls_received("carrier") == 5
    first = RefusedCall.objects.order_by("at").first()
    assert (first.reference, first.idempotency_key, first.at) == (
        "0",
        "label-0",
        START + timedelta(minutes=1),
    )


@ENGINE_DB
def test_calls_after_the_outage_take_effect_once_with_the_same_key():
    """A refusal stores no answer, so the retry with its key after the outage charges exactly once."""
    outage_set(service="payment", on=True)
    with pytest.raises(ServiceUnavailable):
        charge()
    outage_set(service="payment", on=False)

    first, again = charge(), charge()

    assert first == again and ChargeRecord.objects.count() == 1


@ENGINE_DB
def test_an_outage_with_an_end_time_ends_by_itself():
    """Down until `until` by the engine's clock, up after it without anyone switching."""
    with clock.frozen(START):
        outage_set(service="mail", on=True, until=START + timedelta(minutes=10))
        with pytest.raises(ServiceUnavailable):
            mail(1)
        clock.advance(timedelta(minutes=10))
        assert mail(1) == 1

    assert SentMail.objects.count() == 1


@ENGINE_DB
def test_fault_rules_are_not_spent_while_the_service_is_down():
    """The outage refuses first: a rule for the next call still fires after it."""
    fault_add(service="carrier", operation="create_label", mode="unavailable")
    outage_set(service="carrier", on=True)
    with pytest.raises(ServiceUnavailable, match="outage"):
        label()
    outage_set(service="carrier", on=False)

    assert FaultRule.objects.get().remaining == 1
    with pytest.raises(ServiceUnavailable, match="fault rule"):
        label()
    assert RefusedCall.objects.filter(reason="fault_rule").count() == 1


@ENGINE_DB
def test_switching_to_the_same_position_keeps_since():
    """`since` is when the service went down, not the last click."""
    with clock.frozen(START):
        outage_set(service="carrier", on=True, by="alice")
        clock.advance(30)
        outage = outage_set(service="carrier", on=True, by="bob")
        assert (outage.since, outage.by) == (START, "bob")
        clock.advance(30)
        assert outage_set(service="carrier", on=False).since == START + timedelta(seconds=60)


@ENGINE_DB
@pytest.mark.parametrize(
    "arguments",
    [
        {"service": "telegraph", "on": True},
        {"service": "carrier", "on": "yes"},
        {"service": "carrier", "on": True, "by": "x" * 151},
        {"service": "carrier", "on": False, "until": START + timedelta(days=1)},
        {"service": "carrier", "on": True, "until": START - timedelta(days=1)},
    ],
)
def test_bad_switch_is_refused_and_changes_nothing(arguments):
    """A misspelt service, a non-boolean, a name too long, an end time past or without an outage."""
    with clock.frozen(START), pytest.raises(ValueError):
        outage_set(**arguments)

    assert not Outage.objects.exists()


@ENGINE_DB
def test_the_outage_check_is_one_query(django_assert_num_queries):
    """Every simulated call pays for one indexed lookup, not more."""
    outage_set(service="carrier", on=True)
    with django_assert_num_queries(1, connection=connections["simulators"]):
        assert service_down("carrier")


# The admin's switch ------------------------------------------------------------------------


def staff(username: str, *codenames: str) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", "pw", is_staff=True)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="simulators", codename__in=codenames)
    )
    return user


@ENGINE_DB
def test_a_superuser_takes_the_carrier_down_and_back_from_the_admin(client):
    """The board lists every service; its buttons switch the outage and say who did."""
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))
    page = client.get(BOARD)
    assert page.status_code == 200 and "Take down" in page.content.decode()

    client.post(f"{BOARD}carrier/switch/", {"on": "1", "reason": "rehearsal"})
    assert service_down("carrier") and Outage.objects.get().by == "admin"
    assert "Bring back up" in client.get(BOARD).content.decode()

    client.post(f"{BOARD}carrier/switch/", {"on": "0"})
    assert not service_down("carrier")


@ENGINE_DB
def test_staff_without_the_switch_permission_sees_no_button_and_is_refused(client):
    """Seeing the board takes the view permission; switching takes simulators.switch_outage."""
    client.force_login(staff("support", "view_outage"))

    page = client.get(BOARD)
    answer = client.post(f"{BOARD}carrier/switch/", {"on": "1", "reason": "rehearsal"})

    assert page.status_code == 200 and "Take down" not in page.content.decode()
    assert answer.status_code == 403 and not Outage.objects.exists()


@ENGINE_DB
def test_staff_with_the_switch_permission_may_switch(client):
    """The dedicated permission is enough; no superuser needed."""
    client.force_login(staff("ops", "view_outage", "switch_outage"))

    assert client.post(f"{BOARD}payment/switch/", {"on": "1", "reason": "rehearsal"}).status_code == 302
    assert service_down("payment")


@ENGINE_DB
def test_staff_without_any_simulator_permission_cannot_see_the_board(client):
    client.force_login(staff("nobody"))
    assert client.get(BOARD).status_code == 403


@ENGINE_DB
@pytest.mark.parametrize(
    ("path", "data", "status"), [("carrier", {"on": "maybe"}, 400), ("pigeon", {"on": "1"}, 404)]
)
def test_a_bad_switch_request_changes_nothing(client, path, data, status):
    client.force_login(User.objects.create_superuser("admin", "a@example.com", "pw"))

    assert client.post(f"{BOARD}{path}/switch/", data).status_code == status
    assert client.get(f"{BOARD}carrier/switch/").status_code == 405
    assert not Outage.objects.exists()


# SIM_OUTAGE --------------------------------------------------------------------------------


def _run(env: dict, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *command],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_command_refuses_to_start_on_an_unknown_service_in_sim_outage():
    """The settings take SIM_OUTAGE as it is (they do not import the simulators); the simulators'
    system check, which every command runs before it starts, names the unknown service."""
    done = _run({"SIM_OUTAGE": "carrier,teleport"}, "manage.py", "check")
    assert done.returncode != 0
    assert "simulators.E004" in done.stderr and "'teleport'" in done.stderr and "SIM_OUTAGE" in done.stderr


def test_a_command_refuses_to_start_on_an_unknown_service_in_sim_degraded():
    done = _run({"SIM_DEGRADED": "carrier:0.3,fax:0.1"}, "manage.py", "check")
    assert done.returncode != 0
    assert "simulators.E005" in done.stderr and "SIM_DEGRADED" in done.stderr


@pytest.mark.parametrize("value", ["carrier", "carrier:1.5", "carrier:lots", ":0.3"])
def test_a_malformed_sim_degraded_stops_the_settings_themselves(value):
    done = _run({"SIM_DEGRADED": value}, "-c", "import fulfillment.settings")
    assert done.returncode != 0
    assert f"SIM_DEGRADED has {value!r}: use name:share" in done.stderr


def test_sim_degraded_is_read_as_a_share_per_service(monkeypatch):
    monkeypatch.setenv("SIM_DEGRADED", "carrier:0.3, mail:0")
    assert env_shares("SIM_DEGRADED") == {"carrier": 0.3, "mail": 0.0}


@pytest.mark.parametrize("value", [["carrier", "fax"], "carrier"])
def test_a_bad_outage_setting_fails_the_system_check(settings, value):
    settings.SIMULATORS = {"OUTAGE": value}
    assert [error.id for error in check_simulator_settings(None)] == ["simulators.E004"]


def test_the_settings_know_the_same_services_as_the_models():
    assert sorted(SERVICES) == sorted(Service.values)
