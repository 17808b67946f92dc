"""Past a limit the dashboard shows the final states' counts as PostgreSQL's estimate, and says
so; the states of orders in flight stay exact counts. The same of the returns' figures."""

import pytest
from django.urls import reverse

from fulfillment.models import Order, OrderState, Return, ReturnState
from fulfillment.monitoring import _planned_rows, dashboard_figures
from fulfillment.proving.generation import orders_generate
from fulfillment.proving.return_generation import returns_generate
from fulfillment.returns.selectors import return_dashboard_figures

# Committed and flushed after each test: rows rolled back would leave the table's pages behind,
# and the planner's guess of its size would sway the plans of later tests.
pytestmark = pytest.mark.django_db(transaction=True)
FINAL = {OrderState.COMPLETED, OrderState.CANCELLED}


@pytest.fixture
def orders():
    # No ANALYZE (autovacuum's job): the planner's figure is whatever its statistics say, and
    # the tests compare with that figure, not with a count.
    orders_generate(count=600, batch=600)


def actual_counts() -> dict[str, int]:
    return {state: Order.objects.filter(state=state).count() for state in OrderState.values}


def planner_estimate(state: str) -> int:
    return _planned_rows(Order.objects.filter(state=state).order_by())


def test_small_final_states_are_counted(orders):
    figures = dashboard_figures()

    assert figures.estimated_states == frozenset()
    assert {value: n for value, _, n in figures.per_state} == actual_counts()


def test_past_the_limit_final_states_are_estimated_and_the_others_counted(orders, monkeypatch):
    monkeypatch.setattr("fulfillment.monitoring.EXACT_COUNT_LIMIT", 1)

    figures = dashboard_figures()

    assert figures.estimated_states == FINAL
    expected = {**actual_counts(), **{state: planner_estimate(state) for state in FINAL}}
    assert {value: n for value, _, n in figures.per_state} == expected


def test_the_page_says_about_for_an_estimate_only(orders, ops_client, monkeypatch):
    monkeypatch.setattr("fulfillment.monitoring.EXACT_COUNT_LIMIT", 1)
    completed = planner_estimate(OrderState.COMPLETED)
    waiting = Order.objects.filter(state=OrderState.AWAITING_PICK).count()

    response = ops_client.get(reverse("admin:fulfillment_order_dashboard"))

    table = {row["label"]: row["shown"] for row in response.context["states"]}
    assert table["Completed"] == f"about {round(completed, 3 - len(str(completed))):,}"
    assert table["Awaiting pick"] == str(waiting)
    assert "About: PostgreSQL's estimate" in response.content.decode()


@pytest.fixture
def returns(orders):
    returns_generate(share=0.5)


def actual_return_counts() -> dict[str, int]:
    return {state: Return.objects.filter(state=state).count() for state in ReturnState.values}


def test_small_final_return_states_are_counted(returns):
    figures = return_dashboard_figures()

    assert figures.estimated_states == frozenset()
    assert {value: n for value, _, n in figures.per_state} == actual_return_counts()


def test_past_the_limit_final_return_states_are_estimated_and_said_so(returns, ops_client, monkeypatch):
    """As the orders': the returns' completed and cancelled figures become the planner's
    estimate, the others stay counted, and the page says "about" for the estimates only."""
    monkeypatch.setattr("fulfillment.monitoring.EXACT_COUNT_LIMIT", 1)
    final = {ReturnState.COMPLETED, ReturnState.CANCELLED}
    estimates = {state: _planned_rows(Return.objects.filter(state=state).order_by()) for state in final}

    figures = return_dashboard_figures()
    response = ops_client.get(reverse("admin:fulfillment_order_dashboard"))

    assert figures.estimated_states == final
    assert {value: n for value, _, n in figures.per_state} == {**actual_return_counts(), **estimates}
    table = {row["label"]: row["shown"] for row in response.context["returns"]["states"]}
    completed = estimates[ReturnState.COMPLETED]
    assert table["Completed"] == f"about {round(completed, 3 - len(str(completed))):,}"
    waiting = Return.objects.filter(state=ReturnState.AWAITING_PARCEL).count()
    assert table["Waiting for the parcel"] == str(waiting)
    assert "to spare counting every finished return" in response.content.decode()
