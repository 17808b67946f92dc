"""What the list, the task page and the label show a worker."""

from datetime import timedelta

from django.urls import reverse

from fulfillment.models import PickNotice, PickTask
from fulfillment.picking import conf
from fulfillment.picking.tasks import pick_task_claim, pick_task_confirm
from fulfillment.simulators.picker import exact_pick
from processes import clock
from tests.conftest import ENGINE_DB
from tests.fulfillment.picking.conftest import BINS, order_waiting_for_pick
from tests.fulfillment.warehouse.conftest import client_for

pytestmark = ENGINE_DB


def short(task) -> str:
    return str(task.order_id)[:8].upper()


def listing(user) -> str:
    return client_for(user).get(reverse("warehouse:tasks")).content.decode()


def test_list_shows_open_and_own_tasks_soonest_due_first(task, alice, bob):
    later = PickTask.objects.get(order=order_waiting_for_pick())
    PickTask.objects.filter(pk=later.pk).update(due_at=task.due_at + timedelta(minutes=5))
    taken = PickTask.objects.get(order=order_waiting_for_pick())
    done = PickTask.objects.get(order=order_waiting_for_pick())
    pick_task_claim(task_id=taken.pk, worker=bob)
    pick_task_claim(task_id=done.pk, worker=alice)
    pick_task_confirm(task_id=done.pk, worker=alice, picked=exact_pick(done.pk))
    pick_task_claim(task_id=later.pk, worker=alice)

    html = listing(alice)
    assert html.index(short(task)) < html.index(short(later))
    assert short(taken) not in html and short(done) not in html
    assert html.count("Yours") == 1
    assert "3 items on 2 lines" in html


def test_list_marks_late_and_close_to_late_tasks(task, alice):
    soon = PickTask.objects.get(order=order_waiting_for_pick())
    late = PickTask.objects.get(order=order_waiting_for_pick())
    now = clock.now()
    PickTask.objects.filter(pk=soon.pk).update(created_at=now - conf.seconds("WARNING_AFTER"))
    PickTask.objects.filter(pk=late.pk).update(due_at=now - timedelta(minutes=12))

    html = listing(alice)
    assert 'class="badge badge-late">Late by 12 min' in html or "Late by 11 min" in html
    assert html.count("badge badge-soon") == 1
    assert html.count("task task-ok") == 1 and "Due in 3 h 59 min" in html


def test_list_query_count_does_not_grow_with_tasks(task, alice, django_assert_max_num_queries):
    for _ in range(4):
        order_waiting_for_pick()
    client = client_for(alice)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("warehouse:tasks"))
    assert response.content.decode().count('class="task ') == 5


def test_worker_is_told_once_when_a_claim_was_taken_back(task, alice):
    PickNotice.objects.create(user=alice, pick_task=task, text="Your claim on order X was released.")
    assert "Your claim on order X was released." in listing(alice)
    assert "Your claim on order X was released." not in listing(alice)


def test_task_page_shows_lines_bins_address_and_label(task, alice):
    page = client_for(alice).get(reverse("warehouse:task", args=[task.pk]))
    html = page.content.decode()
    for text in [
        "Enamel mug",
        "MUG-001",
        BINS["MUG-001"],
        "T-shirt",
        BINS["TEE-042"],
        "Ada Lovelace",
        "N1 7AA",
    ]:
        assert text in html
    assert task.order.shipments.get().tracking_number in html
    assert reverse("warehouse:label", args=[task.pk]) in html
    assert "Claim this task" in html and "Confirm pick" not in html


def test_task_page_of_the_holder_asks_for_each_line(task, alice, bob):
    pick_task_claim(task_id=task.pk, worker=alice)
    html = client_for(alice).get(reverse("warehouse:task", args=[task.pk])).content.decode()
    for line in task.order.lines.all():
        assert f'name="sku_{line.pk}"' in html and f'name="qty_{line.pk}"' in html
    assert "Confirm pick" in html and "Release" in html and "Report a problem" in html
    assert 'inputmode="numeric"' in html

    other = client_for(bob).get(reverse("warehouse:task", args=[task.pk])).content.decode()
    assert "Claimed by alice" in other and "Confirm pick" not in other and "Claim this task" not in other


def test_label_page_has_the_address_and_a_barcode_of_the_tracking_number(task, alice):
    tracking = task.order.shipments.get().tracking_number
    page = client_for(alice).get(reverse("warehouse:label", args=[task.pk]))
    html = page.content.decode()
    assert page.status_code == 200
    assert f'<svg role="img" aria-label="Barcode {tracking}"' in html
    assert f">{tracking}</text>" in html  # the human-readable line under the bars
    assert "Ada Lovelace" in html and "12 Analytical Row" in html
    assert "@media print" in html


def test_label_page_without_a_live_label(task, alice):
    task.order.shipments.update(voided_at=clock.now())
    page = client_for(alice).get(reverse("warehouse:label", args=[task.pk]))
    assert page.status_code == 404 and b"no live shipping label" in page.content
