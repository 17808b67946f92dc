"""The journal says what happened: the pick step's attempt opens the pick task and the order
waits for a worker; the pick itself is the worker's, in their name."""

from django.contrib.auth.models import User
from django.urls import reverse

from fulfillment.models import PickTask
from fulfillment.monitoring import order_timeline
from fulfillment.picking.tasks import pick_task_claim, pick_task_confirm
from fulfillment.simulators.picker import exact_pick
from tests.admin.conftest import SCENARIOS
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB


def journal_rows(client, order) -> list[str]:
    """The journal table's rows on the order page, as text."""
    page = client.get(reverse("admin:fulfillment_order_change", args=[order.pk])).content.decode()
    table = page.split('id="timeline"', 1)[1]
    return [" ".join(row.split()) for row in table.split("<tr")[2:]]


def test_opening_the_pick_task_is_not_a_pick(ops_client, catalogue):
    order = SCENARIOS["awaiting_pick"]()

    entries = order_timeline(order)
    (opened,) = [e for e in entries if e.kind == "attempt" and "pick" in e.title]
    assert (opened.title, opened.outcome) == ("open pick task (attempt 1)", "succeeded")
    (waiting,) = [e for e in entries if e.title == "label_created → awaiting_pick"]
    assert waiting.reason == "pick task opened, waiting for a worker"

    rows = journal_rows(ops_client, order)
    assert any("open pick task (attempt 1)" in row for row in rows)
    assert any("pick task opened, waiting for a worker" in row for row in rows)
    assert not any("pick done" in row or "pick attempt" in row for row in rows)


def test_the_pick_is_the_workers(ops_client, catalogue):
    order = SCENARIOS["awaiting_pick"]()
    alice = User.objects.create_user("alice")
    task = PickTask.objects.get(order=order)
    pick_task_claim(task_id=task.pk, worker=alice)
    pick_task_confirm(task_id=task.pk, worker=alice, picked=exact_pick(task.pk))

    (picked,) = [e for e in order_timeline(order) if e.title == "awaiting_pick → picked"]
    assert (picked.actor, picked.reason) == ("Warehouse worker alice", "picked by alice")
    rows = journal_rows(ops_client, order)
    assert any("awaiting_pick → picked" in row and "picked by alice" in row for row in rows)


def test_other_steps_keep_their_words(ops_client, catalogue):
    order = SCENARIOS["awaiting_pick"]()

    entries = order_timeline(order)
    titles = [e.title for e in entries if e.kind == "attempt"]
    assert titles[:3] == ["charge_payment attempt 1", "reserve_inventory attempt 1", "create_label attempt 1"]
    (labelled,) = [e for e in entries if e.title == "inventory_reserved → label_created"]
    assert labelled.reason == "create_label done"
