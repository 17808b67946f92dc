"""The order list: columns, the stuck filter defined per step, search, a bounded number of
queries per page however many orders there are, and filters that PostgreSQL answers by index."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fulfillment.models import Order, Payment, Shipment, Warehouse
from fulfillment.monitoring import order_search_q, stuck_q
from fulfillment.steps import ChargePayment
from processes import clock
from tests.factories import ADDRESS

pytestmark = pytest.mark.django_db
LIST = reverse("admin:fulfillment_order_changelist")


@pytest.fixture
def warehouse():
    return Warehouse.objects.create(code="MAIN", name="Main warehouse")


def bulk_orders(warehouse, count, **fields):
    orders = [
        Order(
            email=f"customer{i}@example.com",
            shipping_address=ADDRESS,
            warehouse=warehouse,
            payment_token="tok_ok",
            total=Decimal("10.00"),
            **fields,
        )
        for i in range(count)
    ]
    return Order.objects.bulk_create(orders)


def in_step(warehouse, step, minutes_ago, **fields):
    started = clock.now() - timedelta(minutes=minutes_ago)
    return bulk_orders(warehouse, 1, step=step, step_started_at=started, **fields)[0]


def listed(client, **params) -> set:
    response = client.get(LIST, params)
    assert response.status_code == 200
    return {str(order.pk) for order in response.context["cl"].result_list}


def test_stuck_means_attention_or_longer_than_the_step_should_take(ops_client, warehouse):
    """Each step has its own expected duration: 3 minutes is late for payment, not for the pick."""
    late_payment = in_step(warehouse, "charge_payment", 3)
    fresh_payment = in_step(warehouse, "charge_payment", 1)
    waiting_pick = in_step(warehouse, "pick", 30, state="awaiting_pick", run_status="waiting")
    flagged = in_step(warehouse, "send_confirmation", 0, needs_attention=True, attention_reason="mail down")
    finished = bulk_orders(warehouse, 1, state="completed", run_status="finished")[0]

    assert listed(ops_client, stuck="yes") == {str(late_payment.pk), str(flagged.pk)}
    assert listed(ops_client, stuck="yes", step="charge_payment") == {str(late_payment.pk)}
    assert listed(ops_client, stuck="attention") == {str(flagged.pk)}
    assert str(fresh_payment.pk) in listed(ops_client, step="charge_payment")
    assert listed(ops_client, step="pick") == {str(waiting_pick.pk)}
    assert listed(ops_client, step="none") == {str(finished.pk)}


def test_the_step_filter_calls_each_step_by_its_title(ops_client, monkeypatch):
    """A step's console title is its own (Step.title): its name in words by default, or the title
    the step sets."""
    monkeypatch.setattr(ChargePayment, "title", "Charge the customer's card")

    page = ops_client.get(LIST).content.decode()

    assert ">Charge the customer&#x27;s card<" in page and ">create label<" in page
    assert ">charge payment<" not in page


def test_list_shows_the_engine_columns(ops_client, warehouse):
    in_step(
        warehouse,
        "create_label",
        20,
        state="inventory_reserved",
        attempts=3,
        needs_attention=True,
        attention_reason="create_label gave up after 6 attempts: carrier down",
    )

    page = ops_client.get(LIST).content.decode().replace("<wbr>", "")  # break hints in long names

    for header in [
        "state",
        "step",
        "attempts",
        "in state for",
        "next attempt",
        "deadline",
        "needs attention",
    ]:
        assert f">{header.capitalize()}<" in page or f">{header}<" in page.lower(), header
    assert "create_label (late 15 min)" in page
    assert "⚠ create_label gave up after 6 attempts: carrier down" in page


def test_search_by_id_email_charge_id_and_tracking_number(ops_client, warehouse):
    orders = bulk_orders(warehouse, 4)
    Payment.objects.create(order=orders[1], charge_id="ch_abc123", amount=10, currency="EUR")
    Shipment.objects.create(
        order=orders[2], carrier="SIMPOST", tracking_number="SP000000000042", label_url="x"
    )

    assert listed(ops_client, q=str(orders[0].pk)) == {str(orders[0].pk)}
    assert str(orders[0].pk) in listed(ops_client, q=str(orders[0].pk)[:8])
    assert listed(ops_client, q="CUSTOMER3@example.com") == {str(orders[3].pk)}
    assert listed(ops_client, q="ch_abc123") == {str(orders[1].pk)}
    assert listed(ops_client, q="SP000000000042") == {str(orders[2].pk)}
    assert listed(ops_client, q="no such thing") == set()


def test_search_by_part_of_an_email_or_of_the_customers_name(ops_client, warehouse):
    """Three characters or more of an email or of the name on the address find the order, in
    any case; fewer find only an exact email (no index answers a shorter part)."""
    ada, grace = bulk_orders(warehouse, 2)
    Order.objects.filter(pk=grace.pk).update(
        email="grace.hopper@navy.example", shipping_address={**ADDRESS, "name": "Grace Hopper"}
    )

    assert listed(ops_client, q="lovelace") == {str(ada.pk)}
    assert listed(ops_client, q="HOPP") == {str(grace.pk)}
    assert listed(ops_client, q="navy.ex") == {str(grace.pk)}
    assert listed(ops_client, q="customer0") == {str(ada.pk)}
    assert listed(ops_client, q="e") == set()
    assert listed(ops_client, q="50%") == set()  # a wildcard is a character here


def test_the_list_names_the_customer(ops_client, warehouse):
    bulk_orders(warehouse, 1)

    page = ops_client.get(LIST).content.decode().replace("<wbr>", "")

    assert ">Customer<" in page or ">customer<" in page.lower()
    assert "Ada Lovelace" in page and "customer0@example.com" in page


def page_queries(client, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(LIST, params).status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "params", [{}, {"stuck": "yes"}, {"q": "customer7@example.com"}, {"state__exact": "received"}]
)
def test_list_queries_do_not_grow_with_the_orders(
    ops_client, warehouse, params, django_assert_max_num_queries
):
    """A page of 50 costs the same few queries with 5 orders as with 120."""
    bulk_orders(warehouse, 5, step="charge_payment", step_started_at=clock.now() - timedelta(hours=1))
    few = page_queries(ops_client, **params)
    bulk_orders(warehouse, 115, step="charge_payment", step_started_at=clock.now() - timedelta(hours=1))
    with django_assert_max_num_queries(12):
        many = page_queries(ops_client, **params)
    assert many == few


@pytest.mark.skipif(connection.vendor != "postgresql", reason="query plans are PostgreSQL's")
@pytest.mark.parametrize(
    "name,queryset,index",
    [
        ("stuck: attention", lambda: Order.objects.filter(stuck_q()), "fulfillment_order_attn"),
        ("stuck: late steps", lambda: Order.objects.filter(stuck_q()), "order_step_age"),
        ("step", lambda: Order.objects.filter(step="pick"), "order_step_age"),
        ("state", lambda: Order.objects.filter(state="received"), "fulfillment_order_state"),
        ("email", lambda: Order.objects.filter(order_search_q("A@B.C")), "order_email_ci"),
        ("id prefix", lambda: Order.objects.filter(order_search_q("0123abcd")), "fulfillment_order_pkey"),
        ("newest first", lambda: Order.objects.all()[:50], "order_newest_first"),
        ("created date", lambda: Order.objects.filter(created_at__gte=clock.now()), "order_newest_first"),
    ],
)
def test_filters_are_answered_by_an_index(warehouse, name, queryset, index):
    """With sequential scans discouraged, PostgreSQL plans each filter on its index."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = queryset().explain()
    assert index in plan, f"{name}: {plan}"
