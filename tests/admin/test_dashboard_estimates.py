"""Past a limit the dashboard shows the final states' counts as PostgreSQL's estimate, and says
so; the states of orders in flight stay exact counts."""

import pytest
from django.db import connection
from django.urls import reverse

from fulfillment.generation import orders_generate
from fulfillment.models import Order, OrderState
from fulfillment.monitoring import dashboard_figures

pytestmark = pytest.mark.django_db
FINAL = {OrderState.COMPLETED, OrderState.CANCELLED}


@pytest.fixture
def orders_analyzed():
    orders_generate(count=600, batch=600)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE fulfillment_order")  # every row sampled: the estimate is exact


def actual_counts() -> dict[str, int]:
    return {state: Order.objects.filter(state=state).count() for state in OrderState.values}


def test_small_final_states_are_counted(orders_analyzed):
    figures = dashboard_figures()

    assert figures.estimated_states == frozenset()
    assert {value: n for value, _, n in figures.per_state} == actual_counts()


def test_past_the_limit_final_states_are_estimated_and_the_others_counted(orders_analyzed, monkeypatch):
    monkeypatch.setattr("fulfillment.monitoring.EXACT_COUNT_LIMIT", 1)

    figures = dashboard_figures()

    assert figures.estimated_states == FINAL
    # Right after ANALYZE of a table this small the estimate is the count itself.
    assert {value: n for value, _, n in figures.per_state} == actual_counts()


def test_the_page_says_about_for_an_estimate_only(orders_analyzed, ops_client, monkeypatch):
    monkeypatch.setattr("fulfillment.monitoring.EXACT_COUNT_LIMIT", 1)
    completed = Order.objects.filter(state=OrderState.COMPLETED).count()
    waiting = Order.objects.filter(state=OrderState.AWAITING_PICK).count()

    response = ops_client.get(reverse("admin:fulfillment_order_dashboard"))

    table = {row["label"]: row["shown"] for row in response.context["states"]}
    assert table["Completed"] == f"about {round(completed, 3 - len(str(completed))):,}"
    assert table["Awaiting pick"] == str(waiting)
    assert "About: PostgreSQL's estimate" in response.content.decode()
