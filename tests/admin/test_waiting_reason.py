"""Every order that is not finished says why it waits, what happens next and when, in the same
sentence on the order list, the order page and the dashboard (processes.waiting_reason)."""

from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from fulfillment.interventions import order_compensate
from fulfillment.models import Order, PickTask
from fulfillment.picking.tasks import pick_task_claim
from fulfillment.steps import CreateLabel
from processes import clock
from processes.flow import operators
from processes.journal import Actor
from processes.models.flow import Circuit, CircuitState
from processes.models.journal import ActorType
from processes.models.process import Hold
from processes.waiting_reason import Case, waiting_reason
from tests.admin.conftest import SCENARIOS
from tests.circuit_scenarios import LABEL, open_label_circuit
from tests.conftest import ENGINE_DB
from tests.factories import place_order, run_due

# Times in sentences are read in the morning (tests/conftest.py `morning`).
pytestmark = [ENGINE_DB, pytest.mark.usefixtures("morning")]
LIST = reverse("admin:fulfillment_order_changelist")


def hms(moment) -> str:
    return f"{moment:%H:%M:%S} UTC"


def list_row(client, order) -> str:
    """The order's row of the list, as text (the list shows it whatever its state)."""
    response = client.get(LIST, {"q": str(order.pk)})
    assert response.status_code == 200
    page = unescape(response.content.decode())
    start = page.index(f'title="{order.pk}"')
    return page[start : page.index("</tr>", start)]


def order_page(client, order) -> str:
    return unescape(client.get(reverse("admin:fulfillment_order_change", args=[order.pk])).content.decode())


def shown_everywhere(client, order, sentence: str) -> None:
    """The sentence is on the order's row of the list and at the top of its page."""
    assert sentence in list_row(client, order)
    page = order_page(client, order)
    assert sentence in page[page.index('id="order-waiting"') :][:2000]


def test_backing_off_says_which_attempt_failed_how_and_when_the_next_is(ops_client, catalogue):
    with clock.frozen(clock.now()):
        order = SCENARIOS["backing_off_label"]()
        waiting = waiting_reason(order)

        assert waiting.case == Case.BACKING_OFF and waiting.next_at == order.next_run_at
        sentence = (
            "Backing off after a failure: attempt 1 of 6 of create label failed "
            f"({order.last_error}); the next attempt is at {hms(order.next_run_at)}"
        )
        assert "ServiceUnavailable" in order.last_error
        shown_everywhere(ops_client, order, sentence)


def test_an_order_held_by_the_carriers_circuit_says_so_with_its_next_probe_and_incident(
    ops_client, catalogue
):
    circuit = open_label_circuit(then=3)
    order = Order.objects.filter(held_by=Hold.CIRCUIT).order_by("held_since").first()

    waiting = waiting_reason(order)

    assert waiting.case == Case.HELD and waiting.next_at == circuit.probe_at
    sentence = (
        f"Held by the circuit of the carrier (create_label): open since {hms(circuit.incident_since)}; "
        f"the next probe is at {hms(circuit.probe_at)}. No attempts are spent."
    )
    shown_everywhere(ops_client, order, sentence)
    incident = reverse("admin:processes_circuit_step", args=[LABEL, "create_label"])
    assert f'href="{incident}">Incident</a>' in list_row(ops_client, order)


def test_an_order_at_a_paused_step_names_who_paused_it_and_why(ops_client, catalogue):
    order = place_order()
    key = CreateLabel().flow_key(order)
    operators.pause(
        LABEL, "create_label", key, actor=Actor(ActorType.OPERATOR, "olga"), reason="carrier maintenance"
    )
    with clock.frozen(clock.now()):
        run_due(order)  # charge, reserve, then the paused label step holds it
        order.refresh_from_db()
        assert (order.step, order.held_by) == ("create_label", Hold.CIRCUIT)

        waiting = waiting_reason(order)

        assert waiting.case == Case.PAUSED and waiting.next_at is None
        assert waiting.reason.startswith("Paused by olga at create_label")
        assert "until an operator resumes it: carrier maintenance. No attempts are spent." in waiting.reason
        shown_everywhere(ops_client, order, waiting.reason)


def test_an_unclaimed_pick_says_for_how_long_and_its_next_timer(ops_client, catalogue, settings):
    with clock.frozen(clock.now()):
        order = SCENARIOS["awaiting_pick"]()
        task = PickTask.objects.get(order=order)
        clock.advance(timedelta(minutes=12))

        waiting = waiting_reason(Order.objects.select_related("pick_task").get(pk=order.pk))

        escalation = task.created_at + timedelta(seconds=settings.WAREHOUSE["UNCLAIMED_AFTER"])
        assert waiting.case == Case.PERSON and waiting.next_at == order.next_run_at == escalation
        sentence = (
            "Waiting for a warehouse worker to pick it: the task is unclaimed for 12 min; next: the "
            f"shift lead and the operators are told nobody claimed it at {hms(escalation)}; it must be "
            f"done by {hms(order.deadline_at)}."
        )
        assert waiting.reason == sentence
        shown_everywhere(ops_client, order, sentence)


def test_a_claimed_pick_names_its_holder_and_when_the_claim_is_taken_back(ops_client, catalogue, settings):
    settings.WAREHOUSE = {**settings.WAREHOUSE, "CLAIM_TIMEOUT": 1800}
    with clock.frozen(clock.now()):
        order = SCENARIOS["awaiting_pick"]()
        worker = User.objects.create_user("wendy")
        task = pick_task_claim(task_id=PickTask.objects.get(order=order).pk, worker=worker)
        clock.advance(timedelta(minutes=5))

        reason = waiting_reason(Order.objects.get(pk=order.pk)).reason

        assert "the task is claimed by wendy 5 min ago" in reason
        assert f"next: the claim is taken back at {hms(task.claimed_at + timedelta(minutes=30))}" in reason
        shown_everywhere(ops_client, order, reason)


def test_an_order_that_needs_attention_says_why_and_since_when(ops_client, catalogue):
    order = SCENARIOS["attention_confirmation"]()

    waiting = waiting_reason(order)

    assert waiting.case == Case.ATTENTION and waiting.next_at is None
    assert order.attention_since is not None
    shown_everywhere(
        ops_client,
        order,
        f"Needs attention since {hms(order.attention_since)}: {order.attention_reason}. "
        "Nothing happens until an operator acts.",
    )


def test_a_compensating_order_names_the_undo_that_comes_next(ops_client, catalogue, operator):
    with clock.frozen(clock.now()):
        order = SCENARIOS["awaiting_pick"]()
        order = order_compensate(order_id=order.pk, user=operator, reason="customer phoned")

        waiting = waiting_reason(order)

        assert waiting.case == Case.COMPENSATING
        sentence = f"Being undone: the next undo is the undo of {order.step.replace('_', ' ')}, now"
        assert waiting.reason.startswith(sentence)
        shown_everywhere(ops_client, order, sentence)


def test_a_due_order_is_queued_for_a_worker_since_it_became_due(ops_client, catalogue):
    with clock.frozen(clock.now()):
        order = SCENARIOS["due_payment"]()
        clock.advance(timedelta(seconds=20))

        waiting = waiting_reason(order)

        assert waiting.case == Case.QUEUED and waiting.next_at == order.next_run_at
        shown_everywhere(
            ops_client,
            order,
            f"Queued: charge payment has been due since {hms(order.next_run_at)}, waiting for a free worker.",
        )


def test_a_running_order_says_a_worker_has_it_and_until_when(ops_client, catalogue):
    with clock.frozen(clock.now()):
        order = SCENARIOS["running_payment"]()

        waiting = waiting_reason(order)

        assert waiting.case == Case.RUNNING and waiting.next_at == order.lease_until
        shown_everywhere(ops_client, order, "A worker is running charge payment now (attempt 1 of 6)")


@pytest.mark.parametrize("scenario", ["completed", "cancelled"])
def test_a_finished_order_has_no_waiting_sentence(ops_client, catalogue, scenario):
    order = SCENARIOS[scenario]()

    assert waiting_reason(order) is None
    assert "console-waiting" not in list_row(ops_client, order)
    assert 'id="order-waiting"' not in order_page(ops_client, order)


def test_the_dashboard_lists_stuck_orders_with_why_they_wait(ops_client, catalogue):
    order = SCENARIOS["attention_confirmation"]()

    page = unescape(ops_client.get(reverse("admin:fulfillment_order_dashboard")).content.decode())

    stuck = page[page.index('id="stuck-orders"') :]
    assert str(order.pk)[:8] in stuck
    assert f"Needs attention since {hms(order.attention_since)}: {order.attention_reason}" in stuck


def test_the_lists_waiting_column_costs_the_same_few_queries_however_many_orders_wait(
    ops_client, catalogue, django_assert_max_num_queries
):
    """Held orders read their circuits in one query, pick tasks come with their orders."""
    from tests.admin.test_order_list import bulk_orders, page_queries

    Circuit.objects.create(
        process_type=LABEL,
        step="create_label",
        state=CircuitState.OPEN,
        incident_since=clock.now(),
        probe_at=clock.now() + timedelta(seconds=30),
        reason="the carrier is down",
    )

    def some(count: int) -> None:
        now = clock.now()
        held = dict(step="create_label", held_by=Hold.CIRCUIT, held_since=now, next_run_at=now)
        bulk_orders(catalogue.warehouse, count, **held)
        waiting = bulk_orders(
            catalogue.warehouse,
            count,
            step="pick",
            run_status="waiting",
            deadline_at=now + timedelta(hours=4),
        )
        PickTask.objects.bulk_create(
            PickTask(order=order, warehouse=catalogue.warehouse, due_at=now + timedelta(hours=4))
            for order in waiting
        )

    some(3)
    few = page_queries(ops_client)
    some(30)
    with django_assert_max_num_queries(12):
        many = page_queries(ops_client)
    assert many == few
    page = unescape(ops_client.get(LIST).content.decode())
    held = page.count("Held by the circuit of the carrier (create_label): open since")
    picking = page.count("Waiting for a warehouse worker to pick it: the task is unclaimed")
    assert held and picking and held + picking == 50  # a full page, every row with its sentence
