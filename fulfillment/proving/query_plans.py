"""EXPLAIN the queries that must stay fast at a million orders, on the current database.

Each check runs what the sweeper, a page or the API really runs (captured from the code, not
copied SQL, so a changed filter is checked as it is), then EXPLAIN (ANALYZE, FORMAT JSON) on
each statement that reads the orders or the returns table: its time, the indexes its plan uses
and any sequential scan. A sequential scan of either is the regression this guards against:
unnoticeable at a thousand orders, a tenth of a second or more at a million. The returns' checks
mirror the orders': the sweeper's due query on the returns table, the return list's filters
(those the dashboard links to) and search, the dashboard's return figures, and a client's
returns of one order in the API. PostgreSQL only.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.client import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.test import APIRequestFactory, force_authenticate

from fulfillment.models import Order, Return, ReturnState
from fulfillment.monitoring import dashboard_figures
from fulfillment.returns.selectors import return_dashboard_figures
from processes import clock, conf
from processes.sweeper import due_queryset

ORDERS_TABLE = Order._meta.db_table
RETURNS_TABLE = Return._meta.db_table
# The tables that grow with the business: a statement reading either is explained, and a
# sequential scan of either fails the check.
WATCHED_TABLES = (ORDERS_TABLE, RETURNS_TABLE)
READS_WATCHED = re.compile(
    rf'^\s*SELECT\b.*\b(FROM|JOIN)\s+"({"|".join(WATCHED_TABLES)})"', re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class PlannedQuery:
    """One statement of a check, as PostgreSQL ran it under EXPLAIN ANALYZE."""

    check: str
    sql: str
    ms: float
    indexes: tuple[str, ...]
    seq_scans: tuple[str, ...]  # tables read by a Seq Scan node

    @property
    def watched_seq_scans(self) -> tuple[str, ...]:
        """The watched tables (orders, returns) this statement reads with a sequential scan."""
        return tuple(table for table in self.seq_scans if table in WATCHED_TABLES)


def query_plans_check(
    *, now: datetime | None = None, client=None, returned_order: Order | None = None
) -> list[PlannedQuery]:
    """Run every check and EXPLAIN ANALYZE the statements on the orders or returns table it
    sent. `client` (default: the first with orders) is whose order list is read;
    `returned_order` (default: the client's first order with returns, or any client's) whose
    returns its owner reads."""
    if connection.vendor != "postgresql":
        raise ValueError(f"The query plan checks need PostgreSQL; this database is {connection.vendor}.")
    now = now or clock.now()
    returned_order = returned_order or _some_returned_order(owner=client)
    client = client or _some_client()
    plans = []
    for name, run in _checks(now, client, returned_order).items():
        plans += [_explain(name, sql) for sql in _statements(run)]
    return plans


def _checks(now: datetime, client, returned_order) -> dict[str, Callable[[], object]]:
    checks = {
        "sweeper due": lambda: _sweeper_due(Order, now),
        "admin stuck filter": lambda: _admin_list(Order, {"stuck": "yes"}),
        "needs-attention list": lambda: _admin_list(Order, {"needs_attention__exact": "1"}),
        "search by part of a name": lambda: _admin_list(Order, {"q": "lovelace"}),
        "search by part of an email": lambda: _admin_list(Order, {"q": "ada@exa"}),
        "dashboard": lambda: dashboard_figures(now),
        **_return_checks(now),
    }
    if client is not None:
        checks["client's orders"] = lambda: _api_list(client)
    if returned_order is not None:
        checks["client's returns"] = lambda: _api_returns(returned_order)
    return checks


def _return_checks(now: datetime) -> dict[str, Callable[[], object]]:
    """The returns' own: the sweeper runs the same due query on their table, and the dashboard
    links the return list filtered by stuck, needs attention and each state."""
    waiting = {"state__exact": ReturnState.AWAITING_PARCEL}
    return {
        "return sweeper due": lambda: _sweeper_due(Return, now),
        "return stuck filter": lambda: _admin_list(Return, {"stuck": "yes"}),
        "return needs-attention list": lambda: _admin_list(Return, {"needs_attention__exact": "1"}),
        "returns awaiting parcel": lambda: _admin_list(Return, waiting),
        "return search by part of an email": lambda: _admin_list(Return, {"q": "ada@exa"}),
        "return dashboard": lambda: return_dashboard_figures(now),
    }


def _sweeper_due(model, now: datetime) -> list:
    """The sweeper's query (processes.sweeper._sweep) without its row lock, which adds a
    LockRows node on top of the same scan: a check must not hold the sweeper's rows."""
    query = due_queryset(model, now).order_by("next_run_at").values_list("pk", flat=True)
    return list(query[: conf.get("SWEEP_BATCH")])


def _admin_list(model, params: dict) -> None:
    """Build the admin's list of `model` as an operator who may see everything would get it."""
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    request = RequestFactory().get(url, params, **_site())
    request.user = get_user_model()(is_active=True, is_staff=True, is_superuser=True)  # never saved
    changelist = admin.site.get_model_admin(model).get_changelist_instance(request)
    list(changelist.result_list)


def _api_list(client) -> None:
    """The first page of GET /api/orders/ as `client` (no throttle: a check is no request)."""
    from fulfillment.api.views import OrderListView

    request = APIRequestFactory().get(reverse("api:order-list"), **_site())
    force_authenticate(request, user=client)
    response = OrderListView.as_view(throttle_classes=[])(request)
    if response.status_code != 200:
        raise RuntimeError(f"The API's order list answered {response.status_code}: {response.data}")


def _api_returns(order: Order) -> None:
    """GET /api/orders/<id>/returns/ as the order's owner (no throttle, as above)."""
    from fulfillment.api.return_views import OrderReturnsView

    request = APIRequestFactory().get(reverse("api:order-returns", args=[order.pk]), **_site())
    force_authenticate(request, user=order.owner)
    response = OrderReturnsView.as_view(throttle_classes=[])(request, pk=order.pk)
    if response.status_code != 200:
        raise RuntimeError(f"The API's return list answered {response.status_code}: {response.data}")


def _site() -> dict:
    """Requests as if to SITE_URL, whose host ALLOWED_HOSTS accepts (the API builds links)."""
    url = urlsplit(settings.SITE_URL)
    return {"HTTP_HOST": url.netloc, "secure": url.scheme == "https"}


def _some_client():
    """An API client with orders (the lowest id, found on the client index), or None."""
    owner_id = (
        Order.objects.filter(owner__isnull=False).order_by("owner_id").values_list("owner_id", flat=True)
    ).first()
    return get_user_model().objects.filter(pk=owner_id).first() if owner_id else None


def _some_returned_order(owner=None) -> Order | None:
    """An order with returns of `owner` (default: of any API client), the lowest id, found on
    the returns' order index; or None."""
    returns = Return.objects.filter(order__owner__isnull=False)
    if owner is not None:
        returns = returns.filter(order__owner=owner)
    order_id = returns.order_by("order_id").values_list("order_id", flat=True).first()
    return Order.objects.select_related("owner").filter(pk=order_id).first() if order_id else None


def statement_kind(sql: str) -> str:
    """A short name for a captured statement: what the page or loop asked for."""
    if re.match(r"\s*SELECT COUNT\(\*\) AS \"__count\"", sql):
        return "count"
    if "GROUP BY" in sql:
        group = re.search(r'AS "(\w+)"', sql)
        return f"counts per {group[1] if group else 'group'}"
    return "page" if re.search(r"\bLIMIT \d+", sql) else "rows"


def _statements(run: Callable[[], object]) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        run()
    return [query["sql"] for query in captured.captured_queries if READS_WATCHED.match(query["sql"])]


def _explain(check: str, sql: str) -> PlannedQuery:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
        (document,) = cursor.fetchone()
    nodes = list(_nodes(document[0]["Plan"]))
    return PlannedQuery(
        check=check,
        sql=sql,
        ms=round(document[0]["Execution Time"], 3),
        indexes=tuple(dict.fromkeys(n["Index Name"] for n in nodes if "Index Name" in n)),
        seq_scans=tuple(dict.fromkeys(n["Relation Name"] for n in nodes if n["Node Type"] == "Seq Scan")),
    )


def _nodes(plan: dict):
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)
