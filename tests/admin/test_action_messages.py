"""Actions say what they did: "Retry now" on an order its circuit holds says so and links the
incident instead of claiming success; a success names what changed for each order; a user
without an action's permission is told which permission, in a sentence."""

from html import unescape

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from fulfillment.admin.actions import ACTIONS, operator_action_view
from fulfillment.models import Order
from processes import clock
from processes.models.journal import EventKind, ProcessEvent
from processes.models.process import Hold
from tests.admin.conftest import SCENARIOS
from tests.admin.test_actions import act, messages_of
from tests.circuit_scenarios import LABEL, open_label_circuit
from tests.conftest import ENGINE_DB

# Times in sentences are read in the morning (tests/conftest.py `morning`).
pytestmark = [ENGINE_DB, pytest.mark.usefixtures("morning")]


def test_retry_now_on_an_order_its_circuit_holds_says_so_links_the_incident_and_changes_nothing(
    ops_client, catalogue
):
    with clock.frozen(clock.now()):
        circuit = open_label_circuit(then=3)
        held = Order.objects.filter(held_by=Hold.CIRCUIT).order_by("held_since").first()
        due = SCENARIOS["due_payment"]()
        before = Order.objects.get(pk=held.pk)

        response = act(ops_client, "retry", [held, due])

    text = [unescape(m) for m in messages_of(response)]
    [success] = [m for m in text if m.startswith("Retry now: done")]
    assert success == f"Retry now: done for 1 order ({str(due.pk)[:8]}: charge_payment runs now)."
    [refusal] = [m for m in text if "refused" in m]
    assert refusal.startswith(f"Retry now refused for order {held.pk}: its circuit still holds it")
    assert f"the next probe is at {circuit.probe_at:%H:%M:%S} UTC" in refusal
    incident = reverse("admin:processes_circuit_step", args=[LABEL, "create_label"])
    assert f'<a href="{incident}">See the incident</a>' in refusal
    after = Order.objects.get(pk=held.pk)
    assert (after.next_run_at, after.held_by, after.attempts) == (before.next_run_at, Hold.CIRCUIT, 0)
    assert not ProcessEvent.objects.filter(process_id=held.pk, kind=EventKind.OPERATOR_ACTION).exists()


@pytest.mark.parametrize(
    "action,scenario,words",
    [
        ("retry", "backing_off_label", "create_label runs now, its attempts counted from 0 again"),
        ("resolve", "attention_confirmation", "attention cleared, send_confirmation runs again now"),
        ("compensate", "awaiting_pick", "being undone, next the undo of"),
    ],
)
def test_a_success_names_what_changed(ops_client, catalogue, action, scenario, words):
    order = SCENARIOS[scenario]()
    extra = {"reset_attempts": "on"} if action == "retry" else {}

    text = messages_of(act(ops_client, action, [order], **extra))

    assert any(
        m.startswith(f"{ACTIONS[action].label}: done for 1 order ({str(order.pk)[:8]}: {words}") for m in text
    ), text


@pytest.mark.parametrize(
    "action,sentence",
    [
        (
            "retry",
            "You may not retry orders: your account does not have the permission “Can retry an "
            "order's current step now”. Ask an administrator.",
        ),
        (
            "skip",
            "You may not mark an order's step done by hand: your account does not have the "
            "permission “Can mark an order's current step done by hand”. Ask an administrator.",
        ),
        (
            "resolve",
            "You may not resolve an order's needs-attention: your account does not have the "
            "permission “Can resolve an order's needs-attention”. Ask an administrator.",
        ),
    ],
)
def test_a_user_without_the_permission_is_told_which_in_a_sentence(support, catalogue, action, sentence):
    order = SCENARIOS["due_payment"]()
    request = RequestFactory().get("/", {"ids": str(order.pk)})
    request.user = support

    with pytest.raises(PermissionDenied) as refused:
        operator_action_view(None, request, action)

    assert str(refused.value) == sentence


def test_every_action_has_a_permission_sentence():
    for action in ACTIONS.values():
        assert action.refusal.startswith("You may not ") and action.refusal.endswith("Ask an administrator.")
        assert "“Can " in action.refusal


def test_retry_now_is_greyed_out_on_the_page_of_an_order_its_circuit_holds(ops_client, catalogue):
    """The button says beforehand what the refusal would say after; other orders keep it live."""
    open_label_circuit(then=3)
    held = Order.objects.filter(held_by=Hold.CIRCUIT).first()
    due = SCENARIOS["due_payment"]()

    held_page = ops_client.get(reverse("admin:fulfillment_order_change", args=[held.pk])).content.decode()
    live_page = ops_client.get(reverse("admin:fulfillment_order_change", args=[due.pk])).content.decode()

    greyed = (
        '<span class="console-button-off" title="Not now: its circuit holds it, so a retry would change '
        'nothing; see the incident">Retry now</span>'
    )
    assert greyed in held_page
    retry_url = reverse("admin:fulfillment_order_operator", args=["retry"]) + f"?ids={due.pk}"
    assert f'href="{retry_url}"' in live_page
