"""A worker inspects a return on the phone pages: each line accepted, or rejected with a
reason; bad input changes nothing; the second of two workers is told it was already done."""

import threading
import time

import pytest
from django.db import connection, transaction
from django.urls import reverse

from fulfillment.models import InspectionTask, ReturnLine, ReturnState, Warehouse
from fulfillment.returns.inspection import LineVerdict, inspection_complete
from fulfillment.returns.requests import return_cancel
from processes import clock
from processes.journal import Actor
from processes.models.journal import ActorType, ProcessEvent
from tests.conftest import ENGINE_DB
from tests.fulfillment.warehouse.conftest import client_for
from tests.fulfillment.warehouse.return_fixtures import return_at, short, verdicts
from tests.return_factories import CLIENT, drive_return

pytestmark = ENGINE_DB
PENDING = ReturnLine.Verdict.PENDING


def page(ret):
    return reverse("warehouse:inspection", args=[ret.pk])


def line_verdicts(ret) -> list[tuple[str, str]]:
    return list(ret.lines.order_by("pk").values_list("verdict", "reject_reason"))


def test_the_task_list_shows_open_inspections_beside_pick_tasks(inspecting, alice):
    html = client_for(alice).get(reverse("warehouse:tasks")).content.decode()
    assert "Returns to inspect" in html
    assert f"Return {short(inspecting)}" in html
    assert "3 items on 2 lines to judge" in html
    assert page(inspecting) in html and reverse("warehouse:parcel_scan") in html


def test_another_warehouses_worker_neither_sees_nor_opens_it(inspecting, make_worker):
    nina = make_worker("nina", warehouse=Warehouse.objects.create(code="NORTH", name="North"))
    client = client_for(nina)
    assert f"Return {short(inspecting)}" not in client.get(reverse("warehouse:tasks")).content.decode()
    assert client.get(page(inspecting)).status_code == 404
    response = client.post(page(inspecting), verdicts(inspecting, ("accept", ""), ("accept", "")))
    assert response.status_code == 404
    assert line_verdicts(inspecting) == [(PENDING, ""), (PENDING, "")]


def test_the_page_shows_each_line_with_its_product_sku_and_quantity(inspecting, alice):
    html = client_for(alice).get(page(inspecting)).content.decode()
    for text in ["Enamel mug", "MUG-001", "T-shirt", "TEE-042", "Does not fit", "Save inspection"]:
        assert text in html, text
    assert html.count('type="radio"') == 4


def test_accepting_one_line_and_rejecting_the_other_completes_the_inspection(inspecting, alice):
    response = client_for(alice).post(
        page(inspecting), verdicts(inspecting, ("accept", ""), ("reject", " Worn, stained ")), follow=True
    )

    html = response.content.decode()
    assert f"Return {short(inspecting)} inspected: 1 line accepted, 1 rejected." in html
    assert "Inspected by alice" in html
    assert line_verdicts(inspecting) == [("accepted", ""), ("rejected", "Worn, stained")]
    task = InspectionTask.objects.get(ret=inspecting)
    assert (task.status, task.done_by) == (InspectionTask.Status.DONE, alice)
    inspecting.refresh_from_db()
    assert inspecting.state == ReturnState.INSPECTED
    event = ProcessEvent.objects.get(process_id=inspecting.pk, transition="mark_inspected")
    assert (event.actor_type, event.actor) == (ActorType.WORKER, "alice")


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ((("accept", ""), ("reject", "  ")), "Line 2: say why it is rejected."),
        ((("accept", ""), ("", "")), "Line 2: accept or reject it."),
        ((("keep", ""), ("accept", "")), "Line 1: accept or reject it."),
        ((("accept", ""), ("reject", "x" * 301)), "at most 300 characters"),
    ],
    ids=["reject-without-reason", "no-verdict", "unknown-verdict", "reason-too-long"],
)
def test_bad_verdicts_are_shown_on_their_line_and_nothing_changes(inspecting, alice, given, error):
    response = client_for(alice).post(page(inspecting), verdicts(inspecting, *given))

    assert response.status_code == 400
    html = response.content.decode()
    assert error in html and "Nothing was saved: 1 line to check." in html
    assert line_verdicts(inspecting) == [(PENDING, ""), (PENDING, "")]
    assert InspectionTask.objects.get(ret=inspecting).status == InspectionTask.Status.OPEN


def test_the_second_of_two_workers_is_told_it_was_already_inspected(inspecting, alice, bob):
    """Both opened the page; alice saves first. Bob's rejection is not saved, and he is told."""
    alice_client, bob_client = client_for(alice), client_for(bob)
    assert (
        alice_client.get(page(inspecting)).status_code == bob_client.get(page(inspecting)).status_code == 200
    )
    alice_client.post(page(inspecting), verdicts(inspecting, ("accept", ""), ("accept", "")))

    response = bob_client.post(
        page(inspecting), verdicts(inspecting, ("reject", "Broken"), ("reject", "Worn")), follow=True
    )

    html = response.content.decode()
    assert f"Return {short(inspecting)} was already inspected by alice at" in html
    assert "nothing you entered was saved" in html
    assert line_verdicts(inspecting) == [("accepted", ""), ("accepted", "")]
    assert InspectionTask.objects.get(ret=inspecting).done_by == alice


def test_two_workers_saving_at_the_same_moment_one_wins_the_other_is_told(inspecting, alice, bob):
    """Alice's inspection holds the return's row lock, uncommitted, while bob's request waits on
    it: when alice commits, bob's finds the return no longer waiting and saves nothing."""
    holding, done = threading.Event(), threading.Event()
    answers = {}

    def alice_saves():
        try:
            with transaction.atomic():
                every_line = [LineVerdict(line.pk, True) for line in inspecting.lines.all()]
                inspection_complete(
                    ret=inspecting,
                    verdicts=every_line,
                    actor=Actor(ActorType.WORKER, "alice"),
                    worker_id=alice.pk,
                )
                holding.set()
                done.wait(timeout=20)
        finally:
            connection.close()

    def bob_saves():
        try:
            data = verdicts(inspecting, ("reject", "Broken"), ("reject", "Worn"))
            answers["bob"] = client_for(bob).post(page(inspecting), data, follow=True)
        finally:
            connection.close()

    alice_thread, bob_thread = threading.Thread(target=alice_saves), threading.Thread(target=bob_saves)
    alice_thread.start()
    assert holding.wait(timeout=20)
    bob_thread.start()
    wait_until_a_query_waits_for_a_lock()
    done.set()
    alice_thread.join(timeout=20)
    bob_thread.join(timeout=20)

    html = answers["bob"].content.decode()
    assert f"Return {short(inspecting)} was already inspected by alice at" in html
    assert line_verdicts(inspecting) == [("accepted", ""), ("accepted", "")]


def wait_until_a_query_waits_for_a_lock(timeout: float = 20.0) -> None:
    """Until another connection of this database is blocked on a row lock (bob's request)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.05)
    raise AssertionError("bob's request never waited for alice's lock")


def test_a_return_whose_parcel_has_not_come_has_nothing_to_inspect(awaiting_parcel, alice):
    client = client_for(alice)
    html = client.get(page(awaiting_parcel)).content.decode()
    assert "parcel has not arrived yet" in html and "Save inspection" not in html
    response = client.post(
        page(awaiting_parcel), verdicts(awaiting_parcel, ("accept", ""), ("accept", "")), follow=True
    )
    assert (
        "has no open inspection (it is waiting for the parcel): nothing you entered was saved"
        in response.content.decode()
    )
    assert line_verdicts(awaiting_parcel) == [(PENDING, ""), (PENDING, "")]


def test_a_parcel_just_scanned_says_its_inspection_opens_in_a_moment(awaiting_parcel, alice):
    """Between the scan and the engine opening the task, the page says so and refreshes itself."""
    client = client_for(alice)
    tracking = awaiting_parcel.labels.get().tracking_number
    client.post(reverse("warehouse:parcel_scan"), {"tracking_number": tracking})

    html = client.get(page(awaiting_parcel)).content.decode()

    assert "Its inspection opens in a moment" in html and 'http-equiv="refresh" content="3"' in html
    assert "Save inspection" not in html


def test_a_cancelled_return_has_nothing_to_inspect(awaiting_parcel, alice):
    with clock.frozen():
        return_cancel(ret=awaiting_parcel, actor=CLIENT, reason="changed my mind")
        drive_return(awaiting_parcel)
    html = client_for(alice).get(page(awaiting_parcel)).content.decode()
    assert "There is nothing to inspect:" in html and "the return is cancelled." in html


def test_list_query_count_does_not_grow_with_inspections(inspecting, alice, django_assert_max_num_queries):
    for _ in range(2):
        return_at("inspect", parcel=True)
    client = client_for(alice)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("warehouse:tasks"))
    assert response.content.decode().count("to judge") == 3
