"""The simulated picker works like a person on the pages: it claims, then confirms."""

from fulfillment.models import Order, OrderState, PickTask
from fulfillment.picking import SIMULATED_PICKER, pick_task_claim, simulated_picker_run
from processes import clock
from processes.models import ProcessEvent
from tests.conftest import ENGINE_DB
from tests.factories import drive
from tests.fulfillment.warehouse.conftest import fresh, order_waiting_for_pick

pytestmark = ENGINE_DB


def test_picker_claims_and_confirms_through_the_services(task):
    assert simulated_picker_run(delay=0) == 1

    task = fresh(task)
    assert (task.status, task.assignee.username) == (PickTask.Status.DONE, SIMULATED_PICKER)
    assert not task.assignee.has_usable_password()
    reasons = ProcessEvent.objects.filter(process_id=task.order_id, actor=SIMULATED_PICKER)
    assert list(reasons.values_list("reason", flat=True)) == [
        f"pick claimed by {SIMULATED_PICKER}",
        f"picked by {SIMULATED_PICKER}",
    ]
    with clock.frozen():
        assert drive(Order.objects.get(pk=task.order_id)).state == OrderState.COMPLETED


def test_picker_leaves_tasks_a_person_holds_and_fresh_ones_alone(task, alice):
    pick_task_claim(task_id=task.pk, worker=alice)
    fresh_task = PickTask.objects.get(order=order_waiting_for_pick())

    assert simulated_picker_run(delay=3600) == 0
    assert simulated_picker_run(delay=0) == 1
    assert fresh(task).assignee == alice and fresh(task).status == PickTask.Status.CLAIMED
    assert fresh(fresh_task).status == PickTask.Status.DONE
