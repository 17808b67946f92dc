"""The sweeper's, the console's and the API's queries use indexes: none reads the orders or the
returns table with a sequential scan, and `explain_scale` fails when one does."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Q

from fulfillment.admin.filters import ReturnStuckFilter, StuckFilter
from fulfillment.proving.generation import orders_generate
from fulfillment.proving.query_plans import query_plans_check, statement_kind
from fulfillment.proving.return_generation import returns_generate

# Committed and flushed after each test: rows rolled back would leave the table's pages behind,
# and the planner's guess of its size would sway the plans of later tests.
pytestmark = pytest.mark.django_db(transaction=True)
CHECKS = {
    "sweeper due",
    "admin stuck filter",
    "needs-attention list",
    "search by part of a name",
    "search by part of an email",
    "dashboard",
    "client's orders",
    "return sweeper due",
    "return stuck filter",
    "return needs-attention list",
    "returns awaiting parcel",
    "return search by part of an email",
    "return dashboard",
    "client's returns",
}


@pytest.fixture
def orders_at_small_scale():
    """A few thousand generated orders and returns of a tenth of them, the planner told not to
    take a sequential scan.

    With a few thousand rows a sequential scan is what PostgreSQL rightly prefers, so
    `enable_seqscan = off` is how a test proves an index can answer each query: the planner
    still chooses a sequential scan when no index can (a dropped index, a filter no index
    matches), and that is the regression these tests catch.
    """
    orders_generate(count=3000, batch=1500)
    returns_generate(share=0.1)
    with connection.cursor() as cursor:
        cursor.execute("SET enable_seqscan = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute("RESET enable_seqscan")


def test_no_checked_query_scans_the_orders_table(orders_at_small_scale):
    """Every check runs, and each of its statements on the orders or returns table is answered
    by an index."""
    plans = query_plans_check()

    assert {plan.check for plan in plans} == CHECKS
    scanning = [(plan.check, plan.sql) for plan in plans if plan.watched_seq_scans]
    assert scanning == []
    assert all(plan.indexes for plan in plans)


def test_a_filter_no_index_serves_fails_the_check_naming_it(orders_at_small_scale, monkeypatch):
    """A stuck filter changed to a condition no index matches makes explain_scale exit 1."""
    monkeypatch.setattr(StuckFilter, "stuck", lambda self: Q(payment_token="tok_unknown"))

    with pytest.raises(CommandError, match="sequential scan of fulfillment_order in: admin stuck filter."):
        call_command("explain_scale")


def test_a_return_filter_no_index_serves_fails_the_check_naming_it(orders_at_small_scale, monkeypatch):
    """The same of the return list's stuck filter: the returns table is read whole, and named."""
    monkeypatch.setattr(ReturnStuckFilter, "stuck", lambda self: Q(reason="Worn"))

    with pytest.raises(CommandError, match="sequential scan of fulfillment_return in: return stuck filter."):
        call_command("explain_scale")


def test_explain_scale_prints_each_query_with_its_time_and_indexes(orders_at_small_scale, capsys):
    call_command("explain_scale")

    table = capsys.readouterr().out
    assert "admin stuck filter: count" in table and "admin stuck filter: page" in table
    assert "dashboard: counts per state" in table and "fulfillment_order_due" in table
    assert "order_customer_name_trgm" in table and "order_email_trgm" in table
    assert "return stuck filter: count" in table and "fulfillment_return_due" in table
    assert "client's returns: rows" in table and "return_step_age" in table


def test_the_search_by_part_of_a_name_is_answered_by_its_trigram_index(orders_at_small_scale):
    """The search's count finds its rows through the trigram indexes. (Its page, at a few
    thousand rows, may walk order_newest_first instead; at 100,000 it used the trigram
    indexes too: docs/performance.md.)"""
    plans = [plan for plan in query_plans_check() if plan.check.startswith("search by part")]

    counts = [p for p in plans if statement_kind(p.sql) == "count"]
    assert {p.check for p in counts} == {"search by part of a name", "search by part of an email"}
    assert all({"order_customer_name_trgm", "order_email_trgm"} <= set(p.indexes) for p in counts)
    assert not any(p.watched_seq_scans for p in plans)


def test_an_unknown_client_is_refused():
    with pytest.raises(CommandError, match="No user is named 'nobody'"):
        call_command("explain_scale", "--client", "nobody")
