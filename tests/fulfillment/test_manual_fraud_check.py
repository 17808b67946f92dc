"""An operator skips the fraud check of a v2 order by hand: the order goes on, cleared by that
operator; a result that will not do is refused with a clear message and changes nothing."""

import pytest
from django.contrib.auth import get_user_model

from fulfillment.interventions import order_skip_step
from fulfillment.models import FraudCheck, Order, OrderState
from processes import clock
from processes.exceptions import ManualResultRefused
from processes.models.journal import EventKind, ProcessEvent
from processes.models.rollout import RolloutSetting
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order

pytestmark = ENGINE_DB


@pytest.fixture(autouse=True)
def everyone_on_v2(db):
    RolloutSetting.objects.create(workflow="fulfillment.order", percent=100)


@pytest.fixture
def olga(db):
    return get_user_model().objects.create_user(username="olga", password="pw", is_staff=True)


def skip(order, user, **entered):
    return order_skip_step(
        order_id=order.pk,
        user=user,
        step="fraud_check",
        reason="known customer, screener down",
        entered=entered,
    )


def test_a_fraud_check_reviewed_by_hand_clears_the_order(catalogue, olga):
    """With nothing entered the operator's own review clears the order, and the order completes."""
    order = place_order()
    assert (order.workflow_version, order.step) == (2, "fraud_check")

    skip(order, olga)
    with clock.frozen():
        order = drive(order)

    assert order.state == OrderState.COMPLETED
    check = FraudCheck.objects.get(order=order)
    assert check.assessment_id == f"manual:{order.pk}"
    note = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.OPERATOR_ACTION)
    assert note.actor == "olga" and note.reason == "fraud_check done by hand: known customer, screener down"


def test_an_assessment_from_the_screeners_site_is_recorded(catalogue, olga):
    """An order screened on the screener's own site keeps that assessment's id and score."""
    order = place_order()

    skip(order, olga, assessment_id="fa_by_hand_1", score=12)

    check = FraudCheck.objects.get(order=order)
    assert (check.assessment_id, check.score) == ("fa_by_hand_1", 12)
    assert Order.objects.get(pk=order.pk).state == OrderState.FRAUD_CLEARED


@pytest.mark.parametrize(
    "entered,why",
    [
        ({"assessment_id": "fa_by_hand_1"}, "both the screener's assessment id and its score"),
        ({"score": 12}, "both the screener's assessment id and its score"),
        ({"assessment_id": "fa_by_hand_1", "score": 101}, "between 0 and 100"),
    ],
)
def test_an_incomplete_or_invalid_assessment_is_refused(catalogue, olga, entered, why):
    """Half an assessment, or a score out of range, changes nothing and says why."""
    order = place_order()

    with pytest.raises(ManualResultRefused, match=why):
        skip(order, olga, **entered)

    order.refresh_from_db()
    assert (order.state, order.step, order.completed_steps) == (OrderState.RECEIVED, "fraud_check", [])
    assert not FraudCheck.objects.filter(order=order).exists()
    assert not ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.OPERATOR_ACTION).exists()
