"""A problem a worker reports holds the pick task for an operator: no picker, person or
simulator, claims or confirms it until the operator decides; resolving the attention opens it
to pickers again, picking by hand or cancelling closes it."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.urls import reverse

from fulfillment.errors import PickTaskHeldForOperator
from fulfillment.interventions import order_cancel, order_resolve_attention, order_skip_step
from fulfillment.models import Order, OrderState, PickProblem, PickTask
from fulfillment.notifications import confirmation_message_id
from fulfillment.picking.tasks import pick_task_claim, pick_task_report_problem
from fulfillment.simulators.models import SentMail
from fulfillment.simulators.picker import simulated_picker_run
from processes import clock
from processes.models.journal import EventKind, ProcessEvent
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.factories import drive
from tests.fulfillment.picking.conftest import fresh
from tests.fulfillment.warehouse.conftest import client_for

pytestmark = ENGINE_DB
HELD = (
    "Item missing was reported on this task by alice: it is held for an operator, who decides what "
    "happens next. Nobody can claim or confirm it until then."
)


@pytest.fixture
def reported(task, alice) -> PickTask:
    """alice claimed the task and reported the item missing: the order needs attention."""
    pick_task_claim(task_id=task.pk, worker=alice)
    pick_task_report_problem(task_id=task.pk, worker=alice, problem=PickProblem.MISSING, note="bin empty")
    return fresh(task)


@pytest.fixture
def olga(db) -> User:
    return User.objects.create_user("olga", is_staff=True)


def customer_mailed(order: Order) -> bool:
    return SentMail.objects.filter(message_id=confirmation_message_id(order)).exists()


def test_the_simulated_picker_leaves_a_reported_task_alone(reported):
    """The issue's case: 38 s after the report the simulated picker claimed and confirmed the
    task, cleared the flag, mailed the customer and completed the order. Now it passes it by."""
    with clock.frozen(clock.now() + timedelta(seconds=38)):
        assert simulated_picker_run(delay=0) == 0
        drive(Order.objects.get(pk=reported.order_id))

    task, order = fresh(reported), Order.objects.get(pk=reported.order_id)
    assert (task.status, task.assignee, task.has_open_problem) == (PickTask.Status.OPEN, None, True)
    assert order.needs_attention and order.state == OrderState.AWAITING_PICK
    assert order.attention_reason == "Item missing reported by alice: bin empty"
    assert not ProcessEvent.objects.filter(process_id=order.pk, reason__contains="simulated-picker").exists()
    assert not customer_mailed(order)


def test_no_worker_may_claim_it(reported, bob):
    with pytest.raises(PickTaskHeldForOperator) as refused:
        pick_task_claim(task_id=reported.pk, worker=bob)
    assert str(refused.value) == HELD

    page = client_for(bob).post(reverse("warehouse:claim", args=[reported.pk]), follow=True)
    assert HELD in page.content.decode()
    assert fresh(reported).status == PickTask.Status.OPEN


def test_the_database_refuses_a_claim_or_a_pick_on_an_open_problem(reported, bob):
    """Code that goes around the services (an update, a shell) meets the same rule."""
    claim = {"status": PickTask.Status.CLAIMED, "assignee": bob, "claimed_at": clock.now()}
    for change in [claim, {"status": PickTask.Status.DONE, "done_at": clock.now()}]:
        with pytest.raises(IntegrityError), transaction.atomic():
            PickTask.objects.filter(pk=reported.pk).update(**change)
    assert fresh(reported).status == PickTask.Status.OPEN


def test_an_operator_resolving_it_opens_it_to_pickers_again(reported, olga):
    """Resolve attention: the problem is settled (journalled with the operator's name), the wait
    gets a fresh deadline, and the next picker completes the order."""
    order_resolve_attention(order_id=reported.order_id, user=olga, reason="found the mugs in bin C-02")

    task, order = fresh(reported), Order.objects.get(pk=reported.order_id)
    assert not task.has_open_problem and task.problem_resolved_at is not None
    assert (task.problem, task.problem_reported_by.username) == (PickProblem.MISSING, "alice")
    assert not order.needs_attention and order.run_status == RunStatus.WAITING
    settled = ProcessEvent.objects.get(process_id=order.pk, reason__contains="settled")
    assert (settled.actor_type, settled.actor) == ("operator", "olga")
    assert settled.reason == "Item missing reported by alice settled: the pick task is open to pickers again"

    with clock.frozen():
        assert simulated_picker_run(delay=0) == 1
        order = drive(Order.objects.get(pk=reported.order_id))
    assert order.state == OrderState.COMPLETED and fresh(reported).status == PickTask.Status.DONE


def test_an_operator_picking_by_hand_settles_it(reported, olga):
    order_skip_step(order_id=reported.order_id, user=olga, step="pick", reason="picked it myself", entered={})

    task = fresh(reported)
    assert task.status == PickTask.Status.DONE and task.problem_resolved_at == task.done_at
    with clock.frozen():
        order = drive(Order.objects.get(pk=reported.order_id))
    assert order.state == OrderState.COMPLETED


def test_an_operator_cancelling_closes_it(reported, olga):
    order_cancel(order_id=reported.order_id, user=olga, reason="out of stock everywhere")
    with clock.frozen():
        order = drive(Order.objects.get(pk=reported.order_id))
    assert order.state == OrderState.CANCELLED and fresh(reported).status == PickTask.Status.CANCELLED


def test_a_new_report_after_a_resolution_holds_it_again(reported, olga, bob):
    order_resolve_attention(order_id=reported.order_id, user=olga, reason="look again")
    pick_task_claim(task_id=reported.pk, worker=bob)
    pick_task_report_problem(task_id=reported.pk, worker=bob, problem=PickProblem.DAMAGED, note="cracked")

    task = fresh(reported)
    assert task.has_open_problem and (task.problem, task.problem_reported_by) == (PickProblem.DAMAGED, bob)
    assert simulated_picker_run(delay=0) == 0
    assert Order.objects.get(pk=reported.order_id).attention_reason == "Item damaged reported by bob: cracked"
    assert ProcessEvent.objects.filter(process_id=task.order_id, kind=EventKind.ATTENTION).count() == 2
