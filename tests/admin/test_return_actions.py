"""Operator actions on returns, through the same confirmation pages and with the same rules and
words as the orders': approve or refuse above the threshold, retry, cancel until the parcel
arrives, resolve; each success names what changed, each refusal the rule, and a user without
the permission is told which, in a sentence."""

from decimal import Decimal
from html import unescape

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from fulfillment.admin.return_actions import ACTIONS, return_action_view
from fulfillment.models import Return, ReturnState
from fulfillment.simulators.carrier import labels
from fulfillment.simulators.faults import fault_add
from processes import clock
from processes.models.journal import ProcessEvent
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.return_factories import completed_order, drive_return, request_return, run_due_return

pytestmark = ENGINE_DB
REASON = "customer phoned, ticket 4712"


def act(client, action, returns, *, reason=REASON, **fields):
    """POST the confirmation page of `action`, as its form would."""
    data = {"ids": [str(r.pk) for r in returns], "confirm": "yes", "reason": reason, **fields}
    return client.post(reverse("admin:fulfillment_return_operator", args=[action]), data, follow=True)


def messages_of(response) -> list[str]:
    return [unescape(str(m)) for m in response.context["messages"]]


def short(ret) -> str:
    return str(ret.pk)[:8]


@pytest.fixture
def awaiting_approval(settings, catalogue):
    """A return worth 24.00 above a threshold of 20: it waits for an operator."""
    settings.RETURN_APPROVAL_THRESHOLD = 20
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("TEE-042", 1)))
    assert (ret.step, ret.run_status, ret.approved_by) == ("approve", RunStatus.WAITING, "")
    return ret


def test_an_operator_approves_a_return_above_the_threshold_and_it_runs_on(ops_client, awaiting_approval):
    ret = awaiting_approval
    page = ops_client.get(reverse("admin:fulfillment_return_change", args=[ret.pk])).content.decode()
    assert reverse("admin:fulfillment_return_operator", args=["approve"]) in page
    assert "Waits for" in page or "waiting" in page.lower()

    text = messages_of(act(ops_client, "approve", [ret]))

    assert text == [
        f"Approve: done for 1 return ({short(ret)}: approved by olga, create_return_label runs now)."
    ]
    ret.refresh_from_db()
    assert (ret.state, ret.approved_by) == (ReturnState.APPROVED, "olga")
    note = ProcessEvent.objects.filter(process_id=ret.pk, actor="olga", reason=REASON)
    assert note.exists()
    with clock.frozen():
        assert drive_return(ret).state == ReturnState.COMPLETED


def test_an_operator_refuses_a_return_and_it_is_closed(ops_client, awaiting_approval):
    ret = awaiting_approval

    text = messages_of(act(ops_client, "refuse", [ret]))

    assert text == [f"Refuse: done for 1 return ({short(ret)}: refused, now cancelled)."]
    with clock.frozen():
        ret = drive_return(ret)
    assert ret.state == ReturnState.CANCELLED and not ret.approved_by
    assert ProcessEvent.objects.filter(process_id=ret.pk, reason__contains=f"refused: {REASON}").exists()


def test_approve_is_refused_naming_the_rule_when_the_rule_approved_it(ops_client, catalogue):
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("MUG-001", 1)), parcel=False)
    before = (ret.state, ret.step, ret.approved_by)

    text = messages_of(act(ops_client, "approve", [ret]))

    assert text == [
        f"Approve refused for return {ret.pk}: It is already approved (by approval rule): only a return"
        " waiting for approval can be approved or refused."
    ]
    ret.refresh_from_db()
    assert (ret.state, ret.step, ret.approved_by) == before


def test_cancel_before_the_parcel_voids_the_label_and_is_refused_after_it(ops_client, catalogue):
    with clock.frozen():
        order = completed_order()
        waiting = drive_return(request_return(order, ("MUG-001", 1)), parcel=False)
        arrived = drive_return(request_return(order, ("TEE-042", 1)), judge=None)
    assert waiting.state == ReturnState.AWAITING_PARCEL and arrived.state == ReturnState.INSPECTING

    text = messages_of(act(ops_client, "cancel", [waiting, arrived]))

    assert (
        f"Cancel: done for 1 return ({short(waiting)}: being undone, next the undo of await_parcel)." in text
    )
    assert (
        f"Cancel refused for return {arrived.pk}: Return {arrived.pk} is being inspected: it can no longer"
        " be cancelled." in text
    )
    with clock.frozen():
        waiting = drive_return(waiting)
    assert waiting.state == ReturnState.CANCELLED
    assert labels(str(waiting.pk)) == {"live": 0, "voided": 1}
    arrived.refresh_from_db()
    assert arrived.state == ReturnState.INSPECTING


def test_retry_now_runs_a_backing_off_label_step_at_once(ops_client, catalogue):
    with clock.frozen():
        order = completed_order()
        fault_add(service="carrier", operation="create_label", mode="unavailable", times=1)
        ret = request_return(order, ("MUG-001", 1))
        run_due_return(ret)  # approved by the rule, then the label's first attempt fails
        ret.refresh_from_db()
        assert (ret.step, ret.attempts) == ("create_return_label", 1)

        text = messages_of(act(ops_client, "retry", [ret], reset_attempts="on"))

    assert text == [
        f"Retry now: done for 1 return ({short(ret)}: create_return_label runs now, its attempts counted"
        " from 0 again)."
    ]
    ret.refresh_from_db()
    assert ret.attempts == 0 and ret.next_run_at <= clock.now()


def test_resolve_clears_attention_of_a_refund_that_kept_failing(ops_client, catalogue):
    with clock.frozen():
        order = completed_order()
        fault_add(service="payment", operation="refund", mode="unavailable", times=8, reference=str(order.pk))
        ret = drive_return(request_return(order, ("MUG-001", 1)))
    assert ret.needs_attention and ret.step == "refund_return"
    listing = ops_client.get(reverse("admin:fulfillment_return_changelist"), {"stuck": "attention"})
    assert short(ret) in listing.content.decode()

    text = messages_of(act(ops_client, "resolve", [ret]))

    words = "attention cleared, refund_return runs again now"
    assert text == [f"Resolve attention: done for 1 return ({short(ret)}: {words})."]
    with clock.frozen():
        ret = drive_return(ret)
    assert ret.state == ReturnState.COMPLETED and ret.refund.amount == Decimal("12.50")


@pytest.mark.parametrize(
    "action,sentence",
    [
        (
            "approve",
            "You may not approve returns: your account does not have the permission “Can approve a return"
            " above the automatic threshold”. Ask an administrator.",
        ),
        (
            "cancel",
            "You may not cancel returns: your account does not have the permission “Can cancel a return"
            " before its parcel arrives”. Ask an administrator.",
        ),
    ],
)
def test_a_user_without_the_permission_is_told_which_in_a_sentence(
    support, awaiting_approval, action, sentence
):
    request = RequestFactory().post("/", {"ids": str(awaiting_approval.pk), "confirm": "yes", "reason": "x"})
    request.user = support

    with pytest.raises(PermissionDenied) as refused:
        return_action_view(None, request, action)

    assert str(refused.value) == sentence
    awaiting_approval.refresh_from_db()
    assert awaiting_approval.state == ReturnState.REQUESTED


def test_support_sees_returns_but_gets_no_buttons_and_no_list_actions(support_client, awaiting_approval):
    page = support_client.get(reverse("admin:fulfillment_return_change", args=[awaiting_approval.pk]))
    listing = support_client.get(reverse("admin:fulfillment_return_changelist"))

    assert page.status_code == 200 and 'id="operator-actions"' not in page.content.decode()
    assert listing.status_code == 200 and 'name="action"' not in listing.content.decode()


def test_every_action_has_a_permission_sentence():
    for action in ACTIONS.values():
        assert action.refusal.startswith("You may not ") and action.refusal.endswith("Ask an administrator.")
        assert "“Can " in action.refusal


def test_the_lists_action_opens_the_confirmation_page_for_the_selected_returns(ops_client, awaiting_approval):
    response = ops_client.post(
        reverse("admin:fulfillment_return_changelist"),
        {"action": "approve_returns", "_selected_action": [str(awaiting_approval.pk)]},
    )

    page = response.content.decode()
    assert response.status_code == 200 and "Approve: 1 return" in page and "allowed" in page
    assert Return.objects.get(pk=awaiting_approval.pk).state == ReturnState.REQUESTED
