"""Confirming a pick checks every line's SKU and count; a right pick resumes the order at once."""

from django.urls import reverse
from django_q.models import OrmQ

from fulfillment.models import Order, OrderState, PickTask
from fulfillment.picking.tasks import pick_task_claim
from processes.models.journal import ProcessEvent
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.factories import run_due
from tests.fulfillment.picking.conftest import fresh
from tests.fulfillment.warehouse.conftest import client_for, line_answers

pytestmark = ENGINE_DB


def confirm(client, task, data):
    return client.post(reverse("warehouse:confirm", args=[task.pk]), data, follow=True)


def lines(task):
    return list(task.order.lines.all())


def test_right_pick_resumes_the_order_at_once(task, alice):
    """Done, the order moves on, a wake-up is queued on commit, and the order completes."""
    pick_task_claim(task_id=task.pk, worker=alice)
    queued = OrmQ.objects.count()
    response = confirm(client_for(alice), task, line_answers(task))

    assert b"Picked. The order goes on to shipping." in response.content
    task = fresh(task)
    assert (task.status, task.assignee) == (PickTask.Status.DONE, alice)
    order = Order.objects.get(pk=task.order_id)
    assert (order.state, order.step, order.run_status) == (
        OrderState.PICKED,
        "send_confirmation",
        RunStatus.READY,
    )
    wakeups = [q.task for q in OrmQ.objects.order_by("id")][queued:]
    assert [(w["func"], w["args"][1]) for w in wakeups] == [("processes.tasks.run_process", str(order.pk))]
    picked = ProcessEvent.objects.get(process_id=order.pk, to_state="picked")
    assert (picked.actor_type, picked.actor, picked.reason) == ("worker", "alice", "picked by alice")

    run_due(order)
    order.refresh_from_db()
    assert order.state == OrderState.COMPLETED
    page = client_for(alice).get(reverse("warehouse:task", args=[task.pk]))
    assert b"Completed" in page.content


def test_sku_and_count_are_read_forgivingly(task, alice):
    """Scanners add spaces, people type lower case: both are fine."""
    pick_task_claim(task_id=task.pk, worker=alice)
    first, second = lines(task)
    data = line_answers(task, **{f"sku_{first.pk}": f"  {first.sku.lower()} ", f"qty_{second.pk}": " 1 "})
    confirm(client_for(alice), task, data)
    assert fresh(task).status == PickTask.Status.DONE


def test_wrong_sku_is_refused_naming_the_line(task, alice):
    pick_task_claim(task_id=task.pk, worker=alice)
    first, second = lines(task)
    response = confirm(client_for(alice), task, line_answers(task, **{f"sku_{second.pk}": "MUG-001"}))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was confirmed: 1 line to check." in html
    assert (
        'Line 2: SKU <span class="nowrap">MUG-001</span> is not <span class="nowrap">TEE-042</span>.' in html
    )
    assert "Line 1:" not in html
    assert_nothing_changed(task, alice)


def test_wrong_count_is_refused_naming_the_line(task, alice):
    pick_task_claim(task_id=task.pk, worker=alice)
    first, second = lines(task)
    response = confirm(client_for(alice), task, line_answers(task, **{f"qty_{first.pk}": "3"}))

    assert response.status_code == 400
    assert 'Line 1 (<span class="nowrap">MUG-001</span>): 3 counted, 2 ordered.' in response.content.decode()
    assert_nothing_changed(task, alice)


def test_missing_or_malformed_input_is_refused(task, alice):
    pick_task_claim(task_id=task.pk, worker=alice)
    first, second = lines(task)
    data = line_answers(task, **{f"sku_{first.pk}": "", f"qty_{second.pk}": "two"})
    response = confirm(client_for(alice), task, data)

    assert response.status_code == 400
    html = response.content.decode()
    assert "Line 1: scan or type the SKU." in html
    assert "Line 2: enter the count as a whole number." in html
    assert_nothing_changed(task, alice)


def test_the_typed_values_stay_in_the_form_after_a_refusal(task, alice):
    pick_task_claim(task_id=task.pk, worker=alice)
    first, second = lines(task)
    response = confirm(client_for(alice), task, line_answers(task, **{f"sku_{second.pk}": "WRONG-1"}))
    assert 'value="WRONG-1"' in response.content.decode()


def test_what_was_typed_is_shown_escaped(task, alice):
    pick_task_claim(task_id=task.pk, worker=alice)
    first, second = lines(task)
    typed = '<img src=x onerror="alert(1)">'
    response = confirm(client_for(alice), task, line_answers(task, **{f"sku_{first.pk}": typed}))
    html = response.content.decode()
    assert "<img src=x" not in html and "SKU &lt;img src=x" in html


def test_only_the_holder_can_confirm(task, alice, bob):
    client = client_for(bob)
    response = confirm(client, task, line_answers(task))
    assert b"Claim this task before you confirm it." in response.content
    assert fresh(task).status == PickTask.Status.OPEN

    pick_task_claim(task_id=task.pk, worker=alice)
    response = confirm(client, task, line_answers(task))
    assert b"Only alice, who claimed this task, can confirm it." in response.content
    assert_nothing_changed(task, alice)


def test_a_done_task_cannot_be_confirmed_twice(task, alice):
    pick_task_claim(task_id=task.pk, worker=alice)
    client = client_for(alice)
    confirm(client, task, line_answers(task))
    response = confirm(client, task, line_answers(task))
    assert b"This task is no longer open" in response.content
    assert ProcessEvent.objects.filter(process_id=task.order_id, to_state="picked").count() == 1


def assert_nothing_changed(task, holder):
    task = fresh(task)
    assert (task.status, task.assignee) == (PickTask.Status.CLAIMED, holder)
    order = Order.objects.get(pk=task.order_id)
    assert (order.state, order.step, order.run_status) == (
        OrderState.AWAITING_PICK,
        "pick",
        RunStatus.WAITING,
    )
