"""A worker reports a problem: the order follows the pick step's policy, with their name on it."""

import pytest
from django.urls import reverse

from fulfillment.models import Order, OrderState, PickProblem, PickTask
from fulfillment.picking.tasks import pick_task_claim
from fulfillment.steps import WaitForPick
from processes import clock
from processes.models.journal import EventKind, ProcessEvent
from processes.policies import OnExhausted
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger
from tests.fulfillment.picking.conftest import fresh, operator_alerts
from tests.fulfillment.warehouse.conftest import client_for

pytestmark = ENGINE_DB
REPORT = {"problem": PickProblem.MISSING, "note": "bin A-01-1 is empty"}


def report(client, task, data=REPORT):
    return client.post(reverse("warehouse:problem", args=[task.pk]), data, follow=True)


def test_problem_form_page(task, alice):
    pick_task_claim(task_id=task.pk, worker=alice)
    page = client_for(alice).get(reverse("warehouse:problem", args=[task.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    for label in ["Item missing", "Item damaged", "Not at its bin location"]:
        assert label in html


def test_problem_goes_to_an_operator_with_the_workers_name(task, alice):
    """By default the order needs attention, the journal names alice, operators get one email,
    and alice is told her claim is released and the task held for an operator."""
    pick_task_claim(task_id=task.pk, worker=alice)
    response = report(client_for(alice), task)

    assert response.redirect_chain[-1][0] == reverse("warehouse:tasks")
    short = str(task.order_id)[:8].upper()
    told = (
        f"Problem reported on order {short}. Your claim is released: the task is no longer yours. It stays "
        "in the list, held for an operator, who has been told: nobody can claim it until they decide (pick "
        "it after all, or cancel the order). Nothing more to do."
    )
    assert told in response.content.decode()
    order = Order.objects.get(pk=task.order_id)
    assert order.needs_attention and order.state == OrderState.AWAITING_PICK
    assert order.attention_reason == "Item missing reported by alice: bin A-01-1 is empty"
    event = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.ATTENTION)
    assert (event.actor_type, event.actor) == ("worker", "alice")
    assert event.reason == order.attention_reason
    task = fresh(task)
    assert (task.status, task.assignee, task.problem) == (PickTask.Status.OPEN, None, PickProblem.MISSING)
    assert (task.problem_note, task.problem_reported_by) == ("bin A-01-1 is empty", alice)
    assert task.has_open_problem and task.problem_resolved_at is None
    assert operator_alerts(order) == 1


def test_the_list_shows_the_task_held_for_an_operator(task, alice, bob):
    """Every worker sees the report and that the task waits for an operator, not for them."""
    pick_task_claim(task_id=task.pk, worker=alice)
    report(client_for(alice), task)

    listing = client_for(bob).get(reverse("warehouse:tasks")).content.decode()
    assert "Problem: Item missing" in listing and "Held for an operator" in listing
    page = client_for(bob).get(reverse("warehouse:task", args=[task.pk])).content.decode()
    assert "Held for an operator." in page and "Item missing reported by alice" in page
    assert "Claim this task" not in page


def test_problem_can_compensate_when_the_policy_says_so(task, alice, monkeypatch):
    """With on_problem=compensate the order is undone: pick cancelled, label voided, refunded."""
    monkeypatch.setattr(WaitForPick, "on_problem", OnExhausted.COMPENSATE)
    pick_task_claim(task_id=task.pk, worker=alice)
    report(client_for(alice), task, {"problem": PickProblem.DAMAGED, "note": "mug broken"})

    order = Order.objects.get(pk=task.order_id)
    assert order.state == OrderState.COMPENSATING
    begun = ProcessEvent.objects.get(process_id=order.pk, transition="start_compensation")
    assert (begun.actor, begun.reason) == ("alice", "Item damaged reported by alice: mug broken")
    with clock.frozen():
        order = drive(order)
    assert order.state == OrderState.CANCELLED
    assert fresh(task).status == PickTask.Status.CANCELLED
    assert payment_ledger(order)["refunds"] == 1


def test_with_compensation_the_worker_is_told_the_order_is_cancelled(task, alice, monkeypatch):
    monkeypatch.setattr(WaitForPick, "on_problem", OnExhausted.COMPENSATE)
    pick_task_claim(task_id=task.pk, worker=alice)
    response = report(client_for(alice), task, {"problem": PickProblem.DAMAGED, "note": "mug broken"})

    page = response.content.decode()
    assert "Your claim is released: the task is no longer yours." in page
    assert "The order is being cancelled, so nobody will pick it. Nothing more to do." in page


@pytest.mark.parametrize(
    "data, message",
    [
        ({"note": "empty"}, b"Choose what is wrong."),
        ({"problem": "lost", "note": "empty"}, b"Choose what is wrong."),
        ({"problem": PickProblem.MISSING, "note": ""}, b"Say briefly what you found."),
    ],
)
def test_incomplete_report_is_refused(task, alice, data, message):
    pick_task_claim(task_id=task.pk, worker=alice)
    response = report(client_for(alice), task, data)
    assert response.status_code == 400 and message in response.content
    assert fresh(task).status == PickTask.Status.CLAIMED
    assert not Order.objects.get(pk=task.order_id).needs_attention


def test_only_the_holder_can_report(task, alice, bob):
    response = report(client_for(bob), task)
    assert b"Claim this task before you report a problem on it." in response.content

    pick_task_claim(task_id=task.pk, worker=alice)
    response = report(client_for(bob), task)
    assert b"Only alice, who claimed this task, can report a problem on it." in response.content
    assert not Order.objects.get(pk=task.order_id).needs_attention
