"""The list of every bulk operation on orders: its rows and figures, newest first, its filters
and search, the links to and from it, and who may see it."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from processes import clock
from processes.models.bulk import BulkOperation
from tests.admin.conftest import make_user
from tests.conftest import ENGINE_DB
from tests.fulfillment.bulk.helpers import three_operations

pytestmark = ENGINE_DB
LIST = reverse("admin:fulfillment_orderbulkoperation_changelist")
START = clock.now().replace(microsecond=0) - timedelta(days=1)


def progress(operation) -> str:
    return reverse("admin:fulfillment_order_bulk_progress", args=[operation.pk])


@pytest.fixture
def operations(catalogue):
    return three_operations(START)


def row(page: str, operation) -> str:
    """The list's row of an operation (from its progress link to the row's end)."""
    start = page.index(f'href="{progress(operation)}"')
    return page[start : page.index("</tr>", start)]


def test_the_list_shows_every_operation_on_orders_newest_first(ops_client, operations):
    """Who started which action when, why, how far it got and what it refused or failed; the
    other workflow's operation is not an order's and is not listed."""
    response = ops_client.get(LIST)
    listed = list(response.context["cl"].result_list)
    assert listed == [operations["stuck"], operations["late"], operations["flood"]]
    page = response.content.decode()

    flood = row(page, operations["flood"])
    assert START.strftime("%Y-%m-%d") in flood and START.strftime("%H:%M UTC") in flood
    assert '<td class="field-by">olga</td>' in flood
    assert "Compensate" in flood and "step: pick" in flood
    assert "the flood reached the pick aisles" in flood and ">Done<" in flood
    assert '2 / 2<span class="console-sub">0 left</span>' in flood
    assert (
        '<td class="field-refused_count">0</td>' in flood and '<td class="field-failed_count">0</td>' in flood
    )

    late = row(page, operations["late"])
    assert '<td class="field-by">sam</td>' in late and "customer asked by phone" in late
    assert '0 / 1<span class="console-sub">0 left</span>' in late
    assert '<td class="field-refused_count"><span class="console-refused">1</span></td>' in late

    stuck = row(page, operations["stuck"])
    assert ">Running<" in stuck and '1 / 3<span class="console-sub">1 left</span>' in stuck
    assert '<td class="field-failed_count"><span class="console-refused">1</span></td>' in stuck
    assert '<td class="field-finished">–</td>' in stuck


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("state__exact=done", ["late", "flood"]),
        ("state__exact=running", ["stuck"]),
        ("action=cancel", ["late"]),
        ("q=flood", ["flood"]),
        ("q=sam", ["late"]),
        ("state__exact=done&action=retry", []),
    ],
)
def test_filters_by_state_and_action_and_search_by_reason_or_actor(ops_client, operations, query, names):
    listed = list(ops_client.get(f"{LIST}?{query}").context["cl"].result_list)
    assert listed == [operations[name] for name in names]


def test_each_row_leads_to_its_progress_page_and_back(ops_client, operations):
    """The row's link (and its change address) open the progress page, which links to the list."""
    flood = operations["flood"]
    assert f'href="{progress(flood)}"' in ops_client.get(LIST).content.decode()
    change = ops_client.get(reverse("admin:fulfillment_orderbulkoperation_change", args=[flood.pk]))
    assert change.status_code == 302 and change["Location"] == progress(flood)
    page = ops_client.get(progress(flood)).content.decode()
    assert f'<a href="{LIST}" class="console-bulk-list-link">All bulk operations</a>' in page


def test_the_order_list_and_the_index_link_to_it(support_client, operations):
    orders = support_client.get(reverse("admin:fulfillment_order_changelist")).content.decode()
    assert f'<a href="{LIST}">All bulk operations</a>' in orders
    index = support_client.get(reverse("admin:index")).content.decode()
    fulfillment = index[
        index.index('class="app-fulfillment') : index.index("</table>", index.index('class="app-fulfillment'))
    ]
    assert f'<a href="{LIST}">Bulk operations</a>' in fulfillment


def test_support_sees_it_and_nobody_adds_changes_or_deletes(support_client, ops_client, operations):
    flood = operations["flood"]
    assert support_client.get(LIST).status_code == 200
    assert support_client.get(progress(flood)).status_code == 200
    for client in (support_client, ops_client):
        assert client.get(reverse("admin:fulfillment_orderbulkoperation_add")).status_code == 403
        delete = reverse("admin:fulfillment_orderbulkoperation_delete", args=[flood.pk])
        assert client.post(delete, {"post": "yes"}).status_code == 403
    assert BulkOperation.objects.filter(pk=flood.pk).exists()


def test_a_staff_user_without_a_role_sees_neither_the_list_nor_an_operation(client, operations):
    client.force_login(make_user("nobody"))
    assert client.get(LIST).status_code == 403
    assert client.get(progress(operations["flood"])).status_code == 403


def test_who_may_see_orders_but_not_the_list_gets_no_link(client, operations):
    """The link shows only to those the list would not refuse."""
    user = make_user("vera")
    user.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(user)
    orders = client.get(reverse("admin:fulfillment_order_changelist")).content.decode()
    assert "All bulk operations" not in orders
    assert "All bulk operations" not in client.get(progress(operations["flood"])).content.decode()
    assert client.get(LIST).status_code == 403
