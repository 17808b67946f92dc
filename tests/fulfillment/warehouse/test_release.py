"""Releasing hands a claimed task back to the pool; only its holder can do it."""

from django.urls import reverse

from fulfillment.models import PickTask
from fulfillment.picking import conf
from fulfillment.picking.tasks import pick_task_claim
from processes.models.journal import ProcessEvent
from tests.conftest import ENGINE_DB
from tests.fulfillment.picking.conftest import fresh
from tests.fulfillment.warehouse.conftest import client_for

pytestmark = ENGINE_DB


def release(client, task):
    return client.post(reverse("warehouse:release", args=[task.pk]), follow=True)


def test_holder_releases_the_task_to_the_pool(task, alice, bob):
    pick_task_claim(task_id=task.pk, worker=alice)
    response = release(client_for(alice), task)

    assert response.redirect_chain[-1][0] == reverse("warehouse:tasks")
    assert b"Released: the task is back in the list" in response.content
    task = fresh(task)
    assert (task.status, task.assignee, task.claimed_at) == (PickTask.Status.OPEN, None, None)
    event = ProcessEvent.objects.get(process_id=task.order_id, reason="pick released by alice")
    assert (event.actor_type, event.actor) == ("worker", "alice")
    order = task.order
    order.refresh_from_db()
    assert order.next_run_at == task.created_at + conf.seconds("UNCLAIMED_AFTER")
    pick_task_claim(task_id=task.pk, worker=bob)  # anyone may take it now
    assert fresh(task).assignee == bob


def test_only_the_holder_can_release(task, alice, bob):
    response = release(client_for(bob), task)
    assert b"Claim this task before you release it." in response.content

    pick_task_claim(task_id=task.pk, worker=alice)
    response = release(client_for(bob), task)
    assert b"Only alice, who claimed this task, can release it." in response.content
    assert fresh(task).assignee == alice
