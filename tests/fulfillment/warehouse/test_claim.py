"""Claiming gives a task to one worker; everyone else is told plainly that it is taken."""

from django.urls import reverse

from fulfillment.models import PickTask
from fulfillment.picking import conf
from processes.interventions import process_compensate
from processes.journal import Actor
from processes.models.journal import EventKind, ProcessEvent
from tests.conftest import ENGINE_DB
from tests.factories import run_due
from tests.fulfillment.picking.conftest import fresh
from tests.fulfillment.warehouse.conftest import client_for

pytestmark = ENGINE_DB


def claim(client, task):
    return client.post(reverse("warehouse:claim", args=[task.pk]), follow=True)


def test_claim_gives_the_task_to_the_worker(task, alice):
    """The task becomes alice's, the journal names her, and the claim's own timer is armed."""
    response = claim(client_for(alice), task)

    assert response.redirect_chain == [(reverse("warehouse:task", args=[task.pk]), 302)]
    assert b"Claimed: it is yours" in response.content
    task = fresh(task)
    assert (task.status, task.assignee) == (PickTask.Status.CLAIMED, alice)
    note = ProcessEvent.objects.get(process_id=task.order_id, kind=EventKind.NOTE, reason__contains="claimed")
    assert (note.actor_type, note.actor, note.reason) == ("worker", "alice", "pick claimed by alice")
    order = task.order
    order.refresh_from_db()
    assert order.next_run_at == min(
        task.claimed_at + conf.seconds("CLAIM_TIMEOUT"), task.created_at + conf.seconds("WARNING_AFTER")
    )


def test_second_claim_is_told_someone_else_has_it(task, alice, bob):
    claim(client_for(alice), task)
    response = claim(client_for(bob), task)

    assert b"Someone else has this task: alice claimed it." in response.content
    assert b"Claim this task" not in response.content
    assert fresh(task).assignee == alice


def test_claiming_again_changes_nothing(task, alice):
    client = client_for(alice)
    claim(client, task)
    claimed_at = fresh(task).claimed_at
    response = claim(client, task)

    assert response.status_code == 200 and b"Someone else" not in response.content
    assert fresh(task).claimed_at == claimed_at
    assert ProcessEvent.objects.filter(process_id=task.order_id, reason="pick claimed by alice").count() == 1


def test_a_cancelled_task_cannot_be_claimed(task, alice):
    """An order an operator compensated has no pick to do: the claim is refused."""
    process_compensate(
        model=type(task.order), process_id=task.order_id, actor=Actor("operator", "olga"), reason="customer"
    )
    response = claim(client_for(alice), task)
    assert b"This task is no longer open" in response.content
    assert fresh(task).assignee is None

    run_due(task.order)  # the compensation cancels the task
    assert fresh(task).status == PickTask.Status.CANCELLED
    response = claim(client_for(alice), task)
    assert b"This task is no longer open" in response.content
