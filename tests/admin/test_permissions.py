"""Who may do what: operators act, support only looks, and a crafted request changes nothing."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from fulfillment.models import Order
from fulfillment.roles import ORDER_ACTIONS
from processes.models.journal import ProcessEvent
from tests.admin.conftest import SCENARIOS, make_user
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB
ACTIONS = ["retry", "compensate", "cancel", "skip", "resolve"]


def operator_url(action):
    return reverse("admin:fulfillment_order_operator", args=[action])


@pytest.fixture
def stuck_order(catalogue):
    return SCENARIOS["attention_confirmation"]()


def test_support_sees_every_page(support_client, stuck_order):
    """Support can open the list, the order page, the dashboard and the journal."""
    pages = [
        reverse("admin:fulfillment_order_changelist"),
        reverse("admin:fulfillment_order_changelist") + "?stuck=yes",
        reverse("admin:fulfillment_order_change", args=[stuck_order.pk]),
        reverse("admin:fulfillment_order_dashboard"),
        reverse("admin:processes_stepattempt_changelist"),
        reverse("admin:processes_processevent_changelist"),
        reverse("admin:django_q_failure_changelist"),
        reverse("admin:simulators_chargerecord_changelist"),
    ]
    for page in pages:
        assert support_client.get(page).status_code == 200, page


def test_support_gets_no_buttons_and_no_list_actions(support_client, stuck_order):
    """Support's order page offers no operator action, and the list offers no bulk action."""
    page = support_client.get(reverse("admin:fulfillment_order_change", args=[stuck_order.pk]))
    assert b"Retry now" not in page.content and b"Compensate" not in page.content
    changelist = support_client.get(reverse("admin:fulfillment_order_changelist"))
    assert b"retry_orders" not in changelist.content


@pytest.mark.parametrize("action", ACTIONS)
def test_support_is_refused_every_action(support_client, stuck_order, action):
    """A crafted GET or POST of any action by support answers 403 and changes nothing."""
    assert support_client.get(operator_url(action), {"ids": str(stuck_order.pk)}).status_code == 403
    response = support_client.post(
        operator_url(action),
        {"ids": [str(stuck_order.pk)], "confirm": "yes", "reason": "sneaky", "step": stuck_order.step},
    )
    assert response.status_code == 403
    assert Order.objects.get(pk=stuck_order.pk).needs_attention
    assert not ProcessEvent.objects.filter(process_id=stuck_order.pk, actor_type="operator").exists()


def test_support_cannot_fire_a_list_action(support_client, stuck_order):
    """A crafted POST of a bulk action to the list does nothing for support."""
    response = support_client.post(
        reverse("admin:fulfillment_order_changelist"),
        {"action": "retry_orders", "_selected_action": [str(stuck_order.pk)], "index": 0},
        follow=True,
    )
    assert response.status_code == 200 and b"Yes, retry now" not in response.content
    assert Order.objects.get(pk=stuck_order.pk).needs_attention


def test_each_action_has_its_own_permission(client, stuck_order):
    """A user holding only the retry permission may retry, and is refused resolve."""
    user = make_user("rita")
    user.user_permissions.add(
        Permission.objects.get(codename="view_order"), Permission.objects.get(codename="retry_order")
    )
    client.force_login(user)

    refused = client.post(
        operator_url("resolve"), {"ids": [str(stuck_order.pk)], "confirm": "yes", "reason": "x"}
    )
    allowed = client.post(
        operator_url("retry"), {"ids": [str(stuck_order.pk)], "confirm": "yes", "reason": "x"}
    )

    assert refused.status_code == 403 and allowed.status_code == 302
    assert not Order.objects.get(pk=stuck_order.pk).needs_attention


def test_a_staff_user_without_a_role_sees_nothing(client, stuck_order):
    client.force_login(make_user("nobody"))
    assert client.get(reverse("admin:fulfillment_order_changelist")).status_code == 403
    assert client.get(reverse("admin:fulfillment_order_dashboard")).status_code == 403
    assert client.get(operator_url("retry"), {"ids": str(stuck_order.pk)}).status_code == 403


def test_nobody_edits_or_deletes_orders(ops_client, stuck_order):
    """Orders change only through actions: even operators cannot edit, add or delete them."""
    change = reverse("admin:fulfillment_order_change", args=[stuck_order.pk])
    ops_client.post(change, {"email": "evil@example.com"})
    assert Order.objects.get(pk=stuck_order.pk).email != "evil@example.com"
    assert ops_client.get(reverse("admin:fulfillment_order_add")).status_code == 403
    assert ops_client.get(reverse("admin:fulfillment_order_delete", args=[stuck_order.pk])).status_code == 403


def test_roles_hold_exactly_their_permissions(operator, support):
    """Operators hold the five actions; support holds view permissions only."""
    for codename in ORDER_ACTIONS:
        assert operator.has_perm(f"fulfillment.{codename}")
        assert not support.has_perm(f"fulfillment.{codename}")
    support_codenames = set(
        Permission.objects.filter(group__name="Support").values_list("codename", flat=True)
    )
    assert support_codenames and all(c.startswith("view_") for c in support_codenames)
    assert support.has_perm("django_q.view_failure") and support.has_perm("processes.view_stepattempt")
