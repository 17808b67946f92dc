"""Operator actions through their confirmation pages: allowed from the right states, refused
with a message (never an error page) from the wrong ones, journalled with the operator's
name and reason."""

import pytest
from django.urls import reverse

from fulfillment.models import FraudCheck, Order, OrderState
from fulfillment.steps import CreateLabel, SendConfirmation
from processes import clock
from processes.models.journal import EventKind, ProcessEvent
from tests.admin.conftest import SCENARIOS
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger

pytestmark = ENGINE_DB
REASON = "customer phoned, ticket 4711"
SKIP_FIELDS = {
    "charge_payment": {"charge_id": "ch_by_hand_1"},
    "create_label": {"carrier": "SIMPOST", "tracking_number": "SP000000004711"},
}

ALLOWED = {
    "retry": ["due_payment", "backing_off_label", "attention_confirmation", "attention_compensating"],
    "compensate": ["due_payment", "backing_off_label", "awaiting_pick", "attention_confirmation"],
    "cancel": ["due_payment", "fraud_cleared", "backing_off_label", "awaiting_pick"],
    "skip": ["due_fraud_check", "backing_off_label", "awaiting_pick", "attention_confirmation"],
    "resolve": ["attention_confirmation", "attention_compensating"],
}
REFUSED = {
    "retry": ["awaiting_pick", "completed", "cancelled", "running_payment"],
    "compensate": ["attention_compensating", "completed", "cancelled", "running_payment"],
    "cancel": ["attention_confirmation", "attention_compensating", "completed", "cancelled"],
    "skip": ["attention_compensating", "completed", "cancelled", "running_payment"],
    "resolve": ["due_payment", "awaiting_pick", "completed", "cancelled"],
}


def act(client, action, orders, *, reason=REASON, step=None, **fields):
    """POST the confirmation page of `action`, as its form would."""
    data = {"ids": [str(o.pk) for o in orders], "confirm": "yes", "reason": reason}
    if action == "skip":
        data["step"] = orders[0].step if step is None else step
        data.update(SKIP_FIELDS.get(data["step"], {}))
    data.update(fields)
    return client.post(reverse("admin:fulfillment_order_operator", args=[action]), data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def snapshot(order):
    order = Order.objects.get(pk=order.pk)
    return (order.state, order.step, order.direction, order.attempts, order.needs_attention)


def operator_events(order):
    return ProcessEvent.objects.filter(process_id=order.pk, actor_type="operator", actor="olga")


@pytest.mark.parametrize(
    "action,scenario", [(action, scenario) for action, names in ALLOWED.items() for scenario in names]
)
def test_action_allowed(ops_client, catalogue, action, scenario):
    """From an allowed state the action is done, reported, and journalled with name and reason."""
    order = SCENARIOS[scenario]()

    response = act(ops_client, action, [order])

    assert response.status_code == 200
    assert response.redirect_chain[-1][0] == reverse("admin:fulfillment_order_change", args=[order.pk])
    assert any("done for 1 order" in m for m in messages_of(response)), messages_of(response)
    assert operator_events(order).filter(reason__contains=REASON).exists()


@pytest.mark.parametrize(
    "action,scenario", [(action, scenario) for action, names in REFUSED.items() for scenario in names]
)
def test_action_refused(ops_client, catalogue, action, scenario):
    """From a state that does not allow it the action changes nothing and says why, in a message."""
    order = SCENARIOS[scenario]()
    before = snapshot(order)

    response = act(ops_client, action, [order])

    assert response.status_code == 200
    text = " ".join(messages_of(response)) + response.content.decode()
    assert "refused for order" in text or "has no step left to do by hand" in text
    assert snapshot(order) == before
    assert not operator_events(order).exists()


def test_retry_brings_a_stuck_order_to_completion(ops_client, catalogue):
    """Retry now on an order whose confirmation gave up: it completes, and the journal says who."""
    order = SCENARIOS["attention_confirmation"]()

    act(ops_client, "retry", [order], reset_attempts="on")

    order.refresh_from_db()
    assert not order.needs_attention and order.attempts == 0
    with clock.frozen():
        order = drive(order)
    assert order.state == OrderState.COMPLETED
    note = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.OPERATOR_ACTION)
    assert note.actor == "olga" and note.reason == f"retry send_confirmation now: {REASON}"


def test_compensate_refunds_and_cancels(ops_client, catalogue):
    """Compensating an order waiting for its pick voids, releases, refunds and cancels it."""
    order = SCENARIOS["awaiting_pick"]()

    act(ops_client, "compensate", [order])
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.CANCELLED
    assert order.payment.status == "refunded" and payment_ledger(order)["refunded"] == order.total
    start = ProcessEvent.objects.get(process_id=order.pk, transition="start_compensation")
    assert (start.actor_type, start.actor, start.reason) == ("operator", "olga", REASON)


def test_cancel_journals_the_cancellation(ops_client, catalogue):
    """Cancel is a compensation whose journal entry says it was a cancellation, and by whom."""
    order = SCENARIOS["due_payment"]()

    act(ops_client, "cancel", [order])
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.CANCELLED
    start = ProcessEvent.objects.get(process_id=order.pk, transition="start_compensation")
    assert start.actor == "olga" and start.reason == f"cancelled: {REASON}"


def test_cancel_of_a_fraud_cleared_order_tells_the_screener_and_never_charges(ops_client, catalogue):
    """A v2 order the screener cleared may be cancelled by an operator, as by its client."""
    order = SCENARIOS["fraud_cleared"]()

    act(ops_client, "cancel", [order])
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.CANCELLED
    assert payment_ledger(order)["charges"] == 0
    assert FraudCheck.objects.get(order=order).cancelled_at is not None


def test_skip_label_with_the_tracking_number_entered(ops_client, catalogue):
    """A label made on the carrier's own site is entered by hand; the order goes on with it."""
    order = SCENARIOS["backing_off_label"]()

    act(ops_client, "skip", [order])
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    assert order.shipments.get().tracking_number == "SP000000004711"
    note = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.OPERATOR_ACTION)
    assert note.actor == "olga" and note.reason == f"create_label done by hand: {REASON}"


def test_skip_payment_with_a_duplicate_charge_id_is_refused(ops_client, catalogue):
    """A charge id that another order already recorded is refused with a message; nothing changes."""
    paid = SCENARIOS["awaiting_pick"]()
    order = SCENARIOS["due_payment"]()
    before = snapshot(order)

    response = act(ops_client, "skip", [order], charge_id=paid.payment.charge_id)

    assert any("already recorded for another order" in m for m in messages_of(response))
    assert snapshot(order) == before


def test_skip_fraud_check_with_half_an_assessment_is_refused(ops_client, catalogue):
    """An assessment id without its score is refused with the step's message; nothing changes."""
    order = SCENARIOS["due_fraud_check"]()
    before = snapshot(order)
    page = ops_client.get(reverse("admin:fulfillment_order_operator", args=["skip"]), {"ids": str(order.pk)})
    assert b'name="assessment_id"' in page.content and b'name="score"' in page.content

    response = act(ops_client, "skip", [order], assessment_id="fa_by_hand_1")

    assert any("both the screener's assessment id and its score" in m for m in messages_of(response))
    assert snapshot(order) == before and not FraudCheck.objects.filter(order=order).exists()
    assert not operator_events(order).exists()


def test_skip_form_asks_for_the_steps_result(ops_client, catalogue):
    """Skipping the label step without a tracking number shows the form again with the error."""
    order = SCENARIOS["backing_off_label"]()
    url = reverse("admin:fulfillment_order_operator", args=["skip"])

    page = ops_client.get(url, {"ids": str(order.pk)})
    assert b'name="tracking_number"' in page.content and b'name="carrier"' in page.content
    response = ops_client.post(
        url, {"ids": [str(order.pk)], "confirm": "yes", "reason": "x", "step": "create_label"}
    )

    assert response.status_code == 200 and b"This field is required" in response.content
    assert snapshot(order)[1] == "create_label"


def test_stale_skip_is_refused_when_the_order_moved_on(ops_client, catalogue):
    """A skip confirmed for a step the order has left (another operator was faster) changes nothing."""
    order = SCENARIOS["awaiting_pick"]()
    before = snapshot(order)

    response = act(ops_client, "skip", [order], step="create_label")

    assert b"have moved on" in response.content
    assert snapshot(order) == before


def test_reason_is_required(ops_client, catalogue):
    """Without a reason the confirmation page comes back with the error and nothing is done."""
    order = SCENARIOS["attention_confirmation"]()

    response = act(ops_client, "resolve", [order], reason="  ")

    assert b"This field is required" in response.content
    assert Order.objects.get(pk=order.pk).needs_attention


def test_bulk_action_from_the_list(ops_client, catalogue):
    """Selected in the list, the action asks for confirmation, then acts on each order it may."""
    stuck = [SCENARIOS["attention_confirmation"]() for _ in range(2)]
    done = SCENARIOS["completed"]()
    ids = [str(o.pk) for o in [*stuck, done]]
    filtered = reverse("admin:fulfillment_order_changelist") + "?currency=EUR"

    page = ops_client.post(filtered, {"action": "retry_orders", "_selected_action": ids, "index": 0})
    assert page.status_code == 200 and b"Yes, retry now" in page.content
    assert b"will be refused" in page.content  # the completed one, flagged before confirming
    assert f'name="next" value="{filtered}"'.encode() in page.content
    response = ops_client.post(
        reverse("admin:fulfillment_order_operator", args=["retry"]),
        {"ids": ids, "confirm": "yes", "reason": REASON, "next": filtered},
        follow=True,
    )

    assert response.redirect_chain[-1][0] == filtered  # back to the list as it was filtered
    text = messages_of(response)
    assert any("done for 2 orders" in m for m in text)
    assert any(f"refused for order {done.pk}" in m and "no step to retry" in m for m in text)
    assert all(not Order.objects.get(pk=o.pk).needs_attention for o in stuck)


def test_bulk_skip_of_the_label_step_asks_for_one_order_at_a_time(ops_client, catalogue):
    """Each label has its own tracking number: a bulk skip of create_label is not offered."""
    orders = [SCENARIOS["backing_off_label"]() for _ in range(2)]

    response = ops_client.get(
        reverse("admin:fulfillment_order_operator", args=["skip"]), {"ids": [str(o.pk) for o in orders]}
    )

    assert b"one order at a time" in response.content and b"Yes, skip" not in response.content


def skip_page(client, orders):
    return client.get(
        reverse("admin:fulfillment_order_operator", args=["skip"]), {"ids": [str(o.pk) for o in orders]}
    )


def test_a_step_says_itself_whether_it_is_done_by_hand_one_order_at_a_time(
    ops_client, catalogue, monkeypatch
):
    """The rule is the step's (Step.manual_one_at_a_time), not a list of names in the admin:
    a step that declares it is refused for two orders, and one that stops declaring it is not."""
    monkeypatch.setattr(SendConfirmation, "manual_one_at_a_time", True)
    monkeypatch.setattr(CreateLabel, "manual_one_at_a_time", False)
    confirmations = [SCENARIOS["attention_confirmation"]() for _ in range(2)]
    labels = [SCENARIOS["backing_off_label"]() for _ in range(2)]

    refused, offered = skip_page(ops_client, confirmations), skip_page(ops_client, labels)

    assert b"The result of send_confirmation is different for every order" in refused.content
    assert b"Yes, skip" not in refused.content
    assert b"one order at a time" not in offered.content and b"tracking_number" in offered.content


def test_a_foreign_next_address_is_ignored(ops_client, catalogue):
    """After the action the operator returns to our own pages only, never to another site."""
    order = SCENARIOS["attention_confirmation"]()

    response = act(ops_client, "resolve", [order], next="https://evil.example.com/")

    assert response.redirect_chain[-1][0] == reverse("admin:fulfillment_order_change", args=[order.pk])


@pytest.mark.parametrize(
    "action,scenario,why",
    [
        ("cancel", "attention_confirmation", "is picked: it can no longer be cancelled"),
        ("skip", "attention_compensating", "is being undone: only a forward step can be done by hand"),
        ("retry", "running_payment", "is running charge_payment right now"),
        ("compensate", "cancelled", "there is nothing to compensate"),
        ("resolve", "completed", "does not need attention"),
        ("retry", "awaiting_pick", "has no step to retry (it is awaiting_pick)"),
    ],
)
def test_refusals_say_why(ops_client, catalogue, action, scenario, why):
    """The message names the order and the reason its state refuses the action."""
    order = SCENARIOS[scenario]()

    text = " ".join(messages_of(act(ops_client, action, [order])))

    assert f"refused for order {order.pk}" in text and why in text, text
