"""Human-scale timers fire from the sweeper, each exactly once, under a controlled clock.

Thresholds here: warning at 10 min, escalation of an unclaimed task at 5 min, a claim held
2 min without progress is taken back, the final deadline at 15 min.
"""

from datetime import timedelta

import pytest
from django.urls import reverse

from fulfillment.models import Order, OrderState, PickNotice, PickTask
from fulfillment.picking import conf, timers
from fulfillment.picking.tasks import pick_task_claim, pick_task_confirm, pick_task_release
from fulfillment.simulators.models import SentMail
from fulfillment.simulators.picker import exact_pick
from processes import clock, runner, sweeper
from processes.models.journal import EventKind, ProcessEvent
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order
from tests.fulfillment.picking.conftest import fresh, operator_alerts
from tests.fulfillment.warehouse.conftest import client_for

pytestmark = ENGINE_DB
SHIFT_LEAD = "lead@example.com"


@pytest.fixture(autouse=True)
def short_thresholds(settings):
    settings.PICK_TIMEOUT = 900
    settings.WAREHOUSE = {
        "WARNING_AFTER": 600,
        "UNCLAIMED_AFTER": 300,
        "CLAIM_TIMEOUT": 120,
        "SHIFT_LEAD_EMAIL": SHIFT_LEAD,
    }


@pytest.fixture
def frozen():
    with clock.frozen():
        yield


@pytest.fixture
def task(catalogue, frozen) -> PickTask:
    order = drive(place_order(), pick=False)
    return PickTask.objects.get(order=order)


def at(task, seconds: float):
    """Move the frozen clock to `seconds` after the task opened."""
    clock.advance(task.created_at + timedelta(seconds=seconds) - clock.now())


def sweep(task) -> Order:
    """What the workers do: the sweeper finds the due order, a worker runs it."""
    sweeper.sweep_once()
    runner.run_process(Order._meta.label_lower, task.order_id)
    return Order.objects.get(pk=task.order_id)


def fired(task, name: str) -> int:
    return ProcessEvent.objects.filter(process_id=task.order_id, reason=f"pick: {name} timer fired").count()


def mails(task, kind: str):
    return SentMail.objects.filter(message_id=f"<pick-{kind}-{task.pk}@fulfillment.localhost>")


def test_next_wake_up_follows_the_timers(task, alice):
    """Open: the escalation is next; claimed: the stale claim; released: the escalation again."""
    order = Order.objects.get(pk=task.order_id)
    assert order.next_run_at == task.created_at + timedelta(seconds=300)
    at(task, 60)
    pick_task_claim(task_id=task.pk, worker=alice)
    order.refresh_from_db()
    assert order.next_run_at == task.created_at + timedelta(seconds=180)
    pick_task_release(task_id=task.pk, worker=alice)
    order.refresh_from_db()
    assert order.next_run_at == task.created_at + timedelta(seconds=300)


def test_nothing_fires_early(task):
    at(task, 299)
    assert sweeper.sweep_once() == 0
    sweep(task)
    assert fresh(task).escalated_at is None and not mails(task, "unclaimed").exists()


def test_unclaimed_task_is_escalated_once(task):
    at(task, 300)
    order = sweep(task)

    task = fresh(task)
    assert task.escalated_at == clock.now()
    assert fired(task, "unclaimed") == 1
    (mail,) = mails(task, "unclaimed")
    assert mail.recipients == [SHIFT_LEAD, "operators@fulfillment.localhost"]
    assert "Nobody has claimed it for 5 minutes" in mail.body and str(order.pk) in mail.body
    assert order.next_run_at == task.created_at + timedelta(seconds=600)  # the warning is next

    for seconds in (301, 400, 599):
        at(task, seconds)
        sweep(task)
    assert fired(task, "unclaimed") == 1 and mails(task, "unclaimed").count() == 1


def test_warning_flags_the_task_and_emails_the_shift_lead_once(task, alice):
    at(task, 600)
    assert sweeper.sweep_once() == 1  # found through the order's indexed next_run_at
    sweep(task)

    task = fresh(task)
    assert task.warned_at == clock.now()
    assert fired(task, "warning") == 1
    (mail,) = mails(task, "warning")
    assert mail.recipients == [SHIFT_LEAD] and "5 min left" in mail.subject
    html = client_for(alice).get(reverse("warehouse:tasks")).content.decode()
    assert "badge badge-soon" in html and "Escalated" in html

    for seconds in (601, 700, 899):
        at(task, seconds)
        sweep(task)
    assert fired(task, "warning") == 1 and mails(task, "warning").count() == 1


def test_no_escalation_while_someone_holds_the_task(task, alice):
    at(task, 250)
    pick_task_claim(task_id=task.pk, worker=alice)
    at(task, 300)
    sweep(task)
    assert fresh(task).escalated_at is None and fired(task, "unclaimed") == 0
    at(task, 310)
    pick_task_release(task_id=task.pk, worker=alice)  # nobody's, past the threshold: escalate now
    sweep(task)
    assert fresh(task).escalated_at == clock.now() and fired(task, "unclaimed") == 1


def test_stale_claim_goes_back_to_the_pool_and_the_worker_is_told(task, alice, bob):
    at(task, 10)
    pick_task_claim(task_id=task.pk, worker=alice)
    at(task, 129)
    sweep(task)
    assert fresh(task).assignee == alice

    at(task, 130)
    sweep(task)
    task = fresh(task)
    assert (task.status, task.assignee) == (PickTask.Status.OPEN, None)
    assert fired(task, "claim_stale") == 1
    taken_back = ProcessEvent.objects.get(
        process_id=task.order_id, reason="claim of alice released after 2 min"
    )
    assert taken_back.kind == EventKind.NOTE
    (notice,) = PickNotice.objects.filter(user=alice)
    assert "released after 2 min without a confirmation" in notice.text

    client = client_for(alice)
    assert notice.text in client.get(reverse("warehouse:tasks")).content.decode()
    assert notice.text not in client.get(reverse("warehouse:tasks")).content.decode()

    at(task, 200)
    sweep(task)
    assert fired(task, "claim_stale") == 1
    pick_task_claim(task_id=task.pk, worker=bob)  # a new claim gets its own full time
    at(task, 319)
    sweep(task)
    assert fresh(task).assignee == bob
    at(task, 320)
    sweep(task)
    assert fresh(task).assignee is None and fired(task, "claim_stale") == 2
    assert PickNotice.objects.filter(user=bob).count() == 1


def test_final_deadline_asks_an_operator_once_and_a_late_pick_still_completes(task, alice):
    """At the deadline the order needs attention (no silent cancel); a worker may still pick it."""
    at(task, 900)
    order = sweep(task)
    assert order.needs_attention and order.state == OrderState.AWAITING_PICK
    assert "was not done by its deadline" in order.attention_reason
    at(task, 1000)
    sweep(task)
    attention = ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.ATTENTION)
    assert attention.count() == 1
    assert operator_alerts(order) == 1

    html = client_for(alice).get(reverse("warehouse:tasks")).content.decode()
    assert "Late by" in html and "badge badge-late" in html
    pick_task_claim(task_id=task.pk, worker=alice)
    pick_task_confirm(task_id=task.pk, worker=alice, picked=exact_pick(task.pk))
    order = drive(order)
    assert order.state == OrderState.COMPLETED and not order.needs_attention


def test_a_done_task_fires_nothing(task, alice):
    pick_task_claim(task_id=task.pk, worker=alice)
    pick_task_confirm(task_id=task.pk, worker=alice, picked=exact_pick(task.pk))
    order = drive(Order.objects.get(pk=task.order_id))
    at(task, 2000)
    sweep(task)
    assert order.state == OrderState.COMPLETED
    assert not SentMail.objects.filter(message_id__startswith="<pick-").exists()
    assert not ProcessEvent.objects.filter(process_id=order.pk, reason__endswith="timer fired").exists()


def test_the_timers_module_names_every_timer_its_setting_and_who_fires_it():
    """One hop answers "who fires it?": the module's docstring lists each of its timers with its
    setting, and the final deadline the engine fires."""
    doc = timers.__doc__
    for name in ("WARNING", "UNCLAIMED", "CLAIM_STALE", *conf.DURATIONS, *conf.ENVIRONMENT.values()):
        if name != "SHIFT_LEAD_EMAIL":
            assert f"`{name}`" in doc or f'["{name}"]' in doc, name
    assert "PICK_TIMEOUT" in doc and "processes.waiting" in doc and "sweeper" in doc
