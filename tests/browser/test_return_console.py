"""An operator requests a return in the browser at 1280 px: from the completed order's page,
through the form, to the return's page, which after the workflow ran shows it refunded with
its lines, verdicts, ledger and journal; the return list fits the screen."""

from django.urls import reverse

from fulfillment.models import Return, ReturnState
from processes import clock
from tests.browser.conftest import BROWSER_DB
from tests.browser.test_console_layout import LAPTOP, PHONE, inside, sign_in_operator
from tests.factories import make_catalogue
from tests.return_factories import completed_order, drive_return

pytestmark = BROWSER_DB


def test_an_operator_requests_a_return_and_sees_it_refunded(browser_page, log_in, screenshot):
    make_catalogue()
    with clock.frozen():
        order = completed_order()
    mug = order.lines.get(sku="MUG-001")
    page = sign_in_operator(browser_page, log_in, LAPTOP)

    page.goto(reverse("admin:fulfillment_order_change", args=[order.pk]))
    page.locator("#order-returns").scroll_into_view_if_needed()
    screenshot(page, "order-1280")
    page.click("#request-return")
    page.fill(f"input[name=line_{mug.pk}]", "1")
    page.fill("textarea[name=reason]", "Arrived chipped")
    screenshot(page, "form-1280")
    with page.expect_navigation():
        page.click("input[type=submit]")

    ret = Return.objects.get(order=order)
    assert page.url.endswith(reverse("admin:fulfillment_return_change", args=[ret.pk]))
    assert "1 × MUG-001, worth 12.50 EUR" in page.locator(".messagelist").inner_text()
    with clock.frozen():
        ret = drive_return(ret)
    assert ret.state == ReturnState.COMPLETED

    page.reload()
    screenshot(page, "return-1280")
    assert "12.50" in page.locator("#return-refund").inner_text()
    assert "✓" in page.locator("#ledger-check").inner_text()
    assert "✗" not in page.locator("#ledger-check").inner_text()
    assert page.locator("#timeline tbody tr").count() > 10
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]

    page.goto(reverse("admin:fulfillment_order_dashboard"))
    screenshot(page, "dashboard-1280")
    assert "Completed\n1" in page.locator("#returns-per-state").inner_text().replace("\t", "\n")
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]

    page.goto(reverse("admin:fulfillment_return_changelist"))
    screenshot(page, "list-1280")
    assert inside(page, "#result_list thead th", "#changelist .results") == []
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    page.set_viewport_size(PHONE)
    screenshot(page, "list-390")
