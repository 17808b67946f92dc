"""Every date the console writes has one form and names its zone: "2026-12-06 10:00:12 UTC".

Django localizes the dates it renders; fulfillment/formats/en gives English one sortable format,
so the admin's lists, change pages and our own templates agree, and the API keeps ISO 8601."""

import re
from datetime import UTC, datetime

from django.urls import reverse

from processes import clock
from tests.admin.conftest import SCENARIOS
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB

AT = datetime(2026, 12, 6, 10, 0, 12, tzinfo=UTC)
WITH_ZONE = re.compile(r"\b2026-12-06 10:00:12 UTC\b")
DJANGO_DEFAULT = re.compile(r"\b(Dec\.|a\.m\.|p\.m\.|noon|midnight)")


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def test_order_page_writes_its_times_with_the_zone(ops_client, catalogue):
    """The payment, pick task and journal on the order page are written in one form, with UTC."""
    with clock.frozen(AT):
        order = SCENARIOS["awaiting_pick"]()

    content = page(ops_client, reverse("admin:fulfillment_order_change", args=[order.pk]))

    assert WITH_ZONE.search(content), "the charge and the pick task's opening carry the zone"
    assert "2026-12-06 10:00:12.000 UTC" in content  # the journal keeps milliseconds
    assert not DJANGO_DEFAULT.search(content)


def test_admin_lists_and_change_pages_use_the_same_form(ops_client, catalogue):
    """Django's own list columns and read-only fields follow the formats module, not "Dec. 6, 2026"."""
    with clock.frozen(AT):
        order = SCENARIOS["awaiting_pick"]()
    task = order.pick_task

    listed = page(ops_client, reverse("admin:fulfillment_picktask_changelist"))
    shown = page(ops_client, reverse("admin:fulfillment_picktask_change", args=[task.pk]))
    journal = page(ops_client, reverse("admin:processes_processevent_changelist"))

    for content in (listed, shown, journal):
        assert WITH_ZONE.search(content)
        assert not DJANGO_DEFAULT.search(content)


def test_the_journal_writes_engine_times_in_the_same_form(catalogue):
    """The engine's own sentences (a circuit's hold, a deadline, a pause) name the zone too: the
    journal said "since 2026-12-06T10:00:12+00:00" beside pages that say "… UTC"."""
    from processes.models.journal import EventKind, ProcessEvent
    from tests.circuit_scenarios import open_label_circuit

    with clock.frozen(AT):
        open_label_circuit(then=3)

    holds = ProcessEvent.objects.filter(kind=EventKind.CIRCUIT).values_list("reason", flat=True)
    waits = [reason for reason in holds if "waits:" in reason]
    assert waits and all("since 2026-12-06 10:00:12 UTC; no attempt is spent" in reason for reason in waits)
    assert not any(re.search(r"\d\dT\d\d:", reason) for reason in holds)
    assert clock.written(AT) == "2026-12-06 10:00:12 UTC"
