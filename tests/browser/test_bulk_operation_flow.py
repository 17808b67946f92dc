"""An operator filters the orders waiting at the pick, previews compensating all of them with
the refund total, confirms, and watches the progress bar finish."""

from django.urls import reverse

from processes.bulk import bulk_run
from processes.models.bulk import BulkOperation
from tests.browser.conftest import BROWSER_DB
from tests.browser.test_incidents_page import sign_in_operator
from tests.factories import make_catalogue
from tests.fulfillment.bulk.helpers import completed_orders, ledgers, orders_waiting_for_pick

pytestmark = BROWSER_DB
CONSOLE = {"width": 1280, "height": 900}


def test_filter_preview_confirm_and_progress(browser_page, log_in, screenshot):
    make_catalogue()
    completed_orders(1)
    waiting = orders_waiting_for_pick(3)
    refund = ledgers(waiting)["charged"]
    page = sign_in_operator(browser_page, log_in, viewport=CONSOLE)

    page.goto(reverse("admin:fulfillment_order_changelist") + "?step=pick")
    page.get_by_role("link", name="Act on all 3 matching…").click()
    page.get_by_label("Action").select_option("compensate")
    page.get_by_label("Reason").fill("the flood reached the pick aisles")
    screenshot(page, "1-choose")
    page.get_by_role("button", name="Preview").click()

    assert page.locator("#bulk-will-act").inner_text() == "3"
    assert page.locator("#bulk-refused").inner_text() == "0"
    undo = page.locator(".console-undo").inner_text()
    assert f"Refund\tEUR\t{refund}" in undo and "Label voided\tSIMPOST\t3" in undo
    screenshot(page, "2-preview")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "2-preview-phone")
    page.set_viewport_size(CONSOLE)

    page.get_by_role("button", name="Yes, compensate 3 orders").click()
    page.locator(".messagelist .success").wait_for()
    assert page.locator("#bulk-left").inner_text() == "3"
    screenshot(page, "3-running")

    operation = BulkOperation.objects.get()
    with page.expect_navigation():  # the page reloads itself while the operation runs
        bulk_run(operation.pk)  # the background task, while the page is open
    assert page.locator("#bulk-done").inner_text() == "3"
    assert page.locator("#bulk-left").inner_text() == "0"
    assert page.locator(".console-bar").get_attribute("aria-valuenow") == "100"
    assert "3 done, 0 refused, 0 failed" in page.locator("#bulk-state").inner_text()
    screenshot(page, "4-finished")
