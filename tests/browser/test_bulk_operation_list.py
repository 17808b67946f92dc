"""An operator who left a bulk operation's progress page finds it again: from the order list
to the list of every bulk operation, and from its row back to its progress page, at 1280 px
and on a 390 px phone."""

from datetime import timedelta

from django.urls import reverse

from processes import clock
from tests.browser.conftest import BROWSER_DB
from tests.browser.test_console_layout import LAPTOP, PHONE, inside, sign_in_operator
from tests.factories import make_catalogue
from tests.fulfillment.bulk.helpers import three_operations

pytestmark = BROWSER_DB


def test_from_the_order_list_to_every_operation_and_back_to_one(browser_page, log_in, screenshot):
    make_catalogue()
    operations = three_operations(clock.now() - timedelta(days=1))
    page = sign_in_operator(browser_page, log_in, LAPTOP)

    page.goto(reverse("admin:fulfillment_order_changelist"))
    page.get_by_role("link", name="All bulk operations").click()
    page.locator("#result_list").wait_for()
    screenshot(page, "1280")
    assert page.locator("#result_list tbody tr").count() == 3
    assert inside(page, "#result_list thead th", "#changelist .results") == []
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    late = page.locator("#result_list tbody tr").nth(1)
    assert "customer asked by phone" in late.inner_text()
    assert late.locator("td.field-refused_count").inner_text() == "1"

    page.set_viewport_size(PHONE)
    screenshot(page, "390")
    # The page keeps its width; the table scrolls sideways in its own box to the last columns.
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#changelist .results").evaluate("e => getComputedStyle(e).overflowX") == "auto"
    page.set_viewport_size(LAPTOP)

    late.locator("td.field-started a").click()
    page.locator("#bulk-state").wait_for()
    assert page.url.endswith(reverse("admin:fulfillment_order_bulk_progress", args=[operations["late"].pk]))
    assert page.locator("#bulk-refused").inner_text() == "1"
    screenshot(page, "progress-1280")
    page.set_viewport_size(PHONE)
    screenshot(page, "progress-390")
    page.get_by_role("link", name="All bulk operations").first.click()
    page.locator("#result_list").wait_for()
