"""Workflow versions in the operator console: moving an order to v2 (own permission, reason,
journal, refusals with the reason) and the rollout share, editable by permission only."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from fulfillment.models import Order, OrderState
from processes import clock
from processes.models.journal import EventKind, ProcessEvent
from processes.models.rollout import RolloutSetting
from processes.versions import version_for_new
from tests.admin.conftest import SCENARIOS, make_user
from tests.admin.test_actions import REASON, act, messages_of, snapshot
from tests.conftest import ENGINE_DB
from tests.factories import drive

pytestmark = ENGINE_DB


@pytest.mark.parametrize(
    "scenario,step",
    [("due_payment", "fraud_check"), ("backing_off_label", "create_label"), ("awaiting_pick", "pick")],
)
def test_an_operator_moves_a_v1_order_to_v2(ops_client, catalogue, scenario, step):
    order = SCENARIOS[scenario]()

    response = act(ops_client, "migrate", [order], to_version="2")

    assert any("done for 1 order" in m for m in messages_of(response)), messages_of(response)
    order.refresh_from_db()
    assert (order.workflow_version, order.step) == (2, step)
    note = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.OPERATOR_ACTION)
    assert note.actor == "olga" and note.reason == f"moved from v1 to v2 at {step}: {REASON}"


def test_a_moved_stuck_order_completes_on_v2(ops_client, catalogue):
    order = SCENARIOS["backing_off_label"]()
    act(ops_client, "migrate", [order], to_version="2")
    with clock.frozen():
        order = drive(order)
    assert (order.state, order.workflow_version) == (OrderState.COMPLETED, 2)


@pytest.mark.parametrize(
    "scenario,why",
    [
        ("attention_confirmation", "is picked: v2 maps no such state from v1"),
        ("attention_compensating", "only a process going forward can change version"),
        ("completed", "only a process going forward can change version"),
        ("running_payment", "right now; try again in a moment"),
    ],
)
def test_moving_is_refused_with_the_reason(ops_client, catalogue, scenario, why):
    order = SCENARIOS[scenario]()
    before = snapshot(order)

    response = act(ops_client, "migrate", [order], to_version="2")

    assert any("refused for order" in m and why in m for m in messages_of(response)), messages_of(response)
    assert snapshot(order) == before and Order.objects.get(pk=order.pk).workflow_version == 1


def test_the_confirmation_page_asks_for_a_reason_and_the_version(ops_client, catalogue):
    order = SCENARIOS["due_payment"]()
    page = ops_client.get(
        reverse("admin:fulfillment_order_operator", args=["migrate"]), {"ids": str(order.pk)}
    )
    assert page.status_code == 200
    assert b'name="reason"' in page.content and b'name="to_version"' in page.content


def test_moving_needs_its_own_permission(client, catalogue):
    """A staff user holding every other order action is refused (403), and nothing changes."""
    user = make_user("ringo")
    others = ["retry_order", "compensate_order", "cancel_order", "skip_order_step", "resolve_order_attention"]
    user.user_permissions.set(Permission.objects.filter(codename__in=[*others, "view_order"]))
    client.force_login(user)
    order = SCENARIOS["due_payment"]()
    response = client.post(
        reverse("admin:fulfillment_order_operator", args=["migrate"]),
        {"ids": [str(order.pk)], "confirm": "yes", "reason": "x", "to_version": "2"},
    )
    assert response.status_code == 403
    assert Order.objects.get(pk=order.pk).workflow_version == 1


def test_an_operator_raises_the_rollout_in_the_admin(ops_client, operator):
    response = ops_client.post(
        reverse("admin:processes_rolloutsetting_add"), {"workflow": "fulfillment.Order", "percent": "100"}
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    setting = RolloutSetting.objects.get()
    assert (setting.workflow, setting.percent, setting.updated_by) == ("fulfillment.order", 100, "olga")
    assert version_for_new(label="fulfillment.order", key="anyone@example.com") == 2


def test_the_rollout_refuses_a_share_over_100_or_an_unknown_workflow(ops_client):
    url = reverse("admin:processes_rolloutsetting_add")
    page = ops_client.post(url, {"workflow": "fulfillment.order", "percent": "150"})
    assert b"Ensure this value is less than or equal to 100" in page.content
    page = ops_client.post(url, {"workflow": "fulfillment.product", "percent": "10"})
    assert b"has no two registered versions" in page.content
    assert not RolloutSetting.objects.exists()


def test_support_cannot_change_the_rollout(support_client):
    assert support_client.get(reverse("admin:processes_rolloutsetting_changelist")).status_code == 200
    response = support_client.post(
        reverse("admin:processes_rolloutsetting_add"), {"workflow": "fulfillment.order", "percent": "100"}
    )
    assert response.status_code == 403 and not RolloutSetting.objects.exists()
