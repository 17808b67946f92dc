"""The simulated picker keeps going when another picker got to a task first, and finishes
what it claimed before a lost connection."""

from fulfillment.models import PickTask
from fulfillment.picking.tasks import pick_task_claim, pick_task_confirm
from fulfillment.simulators import picker as simulated
from processes import clock
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order

pytestmark = ENGINE_DB


def test_a_task_done_by_another_picker_meanwhile_is_not_given_back(catalogue):
    """Two simulated pickers (make run's and place_demo_orders') share one account: when one
    confirms a task the other holds too, the other's release must not stop its loop."""
    with clock.frozen():
        order = drive(place_order(), pick=False)
    task = PickTask.objects.get(order=order)
    picker = simulated.simulated_picker_user()
    pick_task_claim(task_id=task.pk, worker=picker)
    pick_task_confirm(task_id=task.pk, worker=picker, picked=simulated.exact_pick(task.pk))

    simulated._give_back(task.pk, picker)  # raised PickTaskClosed before, killing `make run`

    task.refresh_from_db()
    assert task.status == PickTask.Status.DONE


def test_a_task_it_claimed_but_never_confirmed_is_confirmed_on_its_next_run(catalogue):
    """The database went away between its claim and its confirmation (soak --faults infra):
    it must not leave the order waiting half an hour for the stale-claim timer."""
    with clock.frozen():
        order = drive(place_order(), pick=False)
    task = PickTask.objects.get(order=order)
    pick_task_claim(task_id=task.pk, worker=simulated.simulated_picker_user())

    assert simulated.simulated_picker_run(delay=0) == 1

    task.refresh_from_db()
    assert task.status == PickTask.Status.DONE
