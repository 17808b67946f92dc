"""Act on all the orders a filter matches: preview, confirm, progress, cancel, permissions."""

from django.urls import reverse

from fulfillment.models import OrderState
from fulfillment.order_selection import OrderSelection, selection_from_params
from processes.bulk import bulk_run
from processes.models.bulk import BulkOperation, BulkState
from tests.conftest import ENGINE_DB
from tests.fulfillment.bulk.helpers import completed_orders, orders_waiting_for_pick

pytestmark = ENGINE_DB
BULK = reverse("admin:fulfillment_order_bulk")


def test_the_list_offers_to_act_on_every_matching_order(ops_client, catalogue):
    orders_waiting_for_pick(2)
    page = ops_client.get(
        reverse("admin:fulfillment_order_changelist") + "?state__exact=awaiting_pick"
    ).content
    assert f'href="{BULK}?state__exact=awaiting_pick"'.encode() in page
    assert b"Act on all 2 matching" in page


def test_preview_then_confirm_then_progress(ops_client, catalogue):
    """The preview counts and prices the filter's orders; confirming freezes exactly those and
    the progress page follows the operation to its end."""
    completed_orders(1)
    waiting = orders_waiting_for_pick(2)
    url = f"{BULK}?step=pick"
    preview = ops_client.post(url, {"action": "compensate", "reason": "flooded"})
    text = preview.content.decode()
    assert preview.status_code == 200
    assert 'id="bulk-will-act">2<' in text and 'id="bulk-refused">0<' in text
    assert "Refund" in text and "EUR" in text and "Label voided" in text
    assert "Yes, compensate 2 orders" in text

    started = ops_client.post(
        url, {"action": "compensate", "reason": "flooded", "expected": 2, "confirm": "yes"}
    )
    operation = BulkOperation.objects.get()
    assert started.status_code == 302
    assert started["Location"] == reverse("admin:fulfillment_order_bulk_progress", args=[operation.pk])
    assert set(operation.items.values_list("process_id", flat=True)) == {o.pk for o in waiting}
    assert operation.selection == "step: pick" and operation.requested_by == "olga"

    running = ops_client.get(started["Location"]).content.decode()
    assert (
        'http-equiv="refresh"' in running and 'id="bulk-left">2<' in running and "Cancel the rest" in running
    )
    bulk_run(operation.pk)
    finished = ops_client.get(started["Location"]).content.decode()
    assert 'http-equiv="refresh"' not in finished and 'id="bulk-done">2<' in finished
    assert "compensate of 2 by olga: 2 done" in finished


def test_confirming_after_the_filter_changed_shows_the_preview_again(ops_client, catalogue):
    orders_waiting_for_pick(2)
    page = ops_client.post(
        f"{BULK}?step=pick", {"action": "compensate", "reason": "flooded", "expected": 3, "confirm": "yes"}
    )
    assert page.status_code == 200 and not BulkOperation.objects.exists()
    assert "changed since the preview (3 then, 2 now)" in page.content.decode()


def test_cancel_from_the_progress_page(ops_client, catalogue):
    waiting = orders_waiting_for_pick(1)
    ops_client.post(f"{BULK}?step=pick", {"action": "retry", "reason": "r", "expected": 1, "confirm": "yes"})
    operation = BulkOperation.objects.get()
    ops_client.post(reverse("admin:fulfillment_order_bulk_cancel", args=[operation.pk]))
    bulk_run(operation.pk)
    operation.refresh_from_db()
    waiting[0].refresh_from_db()
    assert operation.state == BulkState.CANCELLED and waiting[0].state == OrderState.AWAITING_PICK


def test_support_may_not_act_in_bulk(support_client, catalogue):
    orders_waiting_for_pick(1)
    page = support_client.post(
        f"{BULK}?step=pick", {"action": "compensate", "reason": "r", "expected": 1, "confirm": "yes"}
    )
    assert page.status_code == 403 and not BulkOperation.objects.exists()


def test_a_bad_filter_is_refused_with_what_is_wrong(ops_client, catalogue):
    page = ops_client.get(f"{BULK}?state__exact=lost", follow=True)
    assert "This filter cannot be acted on: No state &#x27;lost&#x27;" in page.content.decode()
    assert not BulkOperation.objects.exists()


def test_the_selection_matches_the_list(ops_client, catalogue):
    """For each filter and search, the bulk selection holds the orders the list shows."""
    completed_orders(1)
    orders_waiting_for_pick(2)
    for query in [
        "state__exact=completed",
        "step=pick",
        "stuck=attention",
        "needs_attention__exact=0",
        "q=ada",
        "",
    ]:
        params = dict(part.split("=") for part in query.split("&") if part)
        listed = ops_client.get(reverse("admin:fulfillment_order_changelist") + f"?{query}")
        shown = {o.pk for o in listed.context["cl"].queryset}
        assert set(selection_from_params(params).queryset().values_list("pk", flat=True)) == shown, query
    assert OrderSelection().words() == "all orders"


def test_a_bad_form_says_what_is_wrong_and_starts_nothing(ops_client, catalogue):
    orders_waiting_for_pick(1)
    page = ops_client.post(
        f"{BULK}?step=pick", {"action": "explode", "reason": "", "expected": "x", "confirm": "yes"}
    )
    text = page.content.decode()
    assert page.status_code == 200 and not BulkOperation.objects.exists()
    assert "Select a valid choice. explode is not one of the available choices." in text
    assert "This field is required." in text and "Expected: Enter a whole number." in text
