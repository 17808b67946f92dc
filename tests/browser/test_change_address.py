"""An operator fixes the address the carrier refused, from the order's page, and the label is
made with the corrected one."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Order, OrderState
from fulfillment.roles import OPERATORS
from fulfillment.simulators.carrier import UNDELIVERABLE_POSTCODE, labels
from processes import clock
from tests.admin.conftest import make_user
from tests.browser.conftest import BROWSER_DB
from tests.factories import ADDRESS, drive, make_catalogue, place_order

pytestmark = BROWSER_DB
PASSWORD = "a-long-enough-password"


def test_operator_fixes_a_refused_address_and_the_label_is_made(browser_page, log_in, screenshot):
    make_catalogue()
    operator = make_user("olga", OPERATORS)
    operator.set_password(PASSWORD)
    operator.save()
    with clock.frozen(timezone.now() - timedelta(minutes=30)):
        order = place_order()
        Order.objects.filter(pk=order.pk).update(
            shipping_address={**ADDRESS, "postal_code": UNDELIVERABLE_POSTCODE}
        )
        order = drive(order)
    assert order.needs_attention and order.step == "create_label"

    phone = open_form(browser_page("phone"), log_in, order)
    screenshot(phone, "form-390")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")

    page = open_form(browser_page({"width": 1280, "height": 900}), log_in, order)
    page.get_by_label("Postcode").fill("N1 7AB")
    page.get_by_label("Reason").fill("postcode corrected with the customer")
    screenshot(page, "form-1280")
    page.get_by_role("button", name="Yes, change address").click()
    page.locator(".messagelist .success").wait_for()
    assert "Change address: done for 1 order" in page.locator(".messagelist").inner_text()
    assert page.locator(".console-banner-attention").count() == 0
    screenshot(page, "changed-1280")

    with clock.frozen():
        order = drive(Order.objects.get(pk=order.pk))
    assert order.state == OrderState.COMPLETED and order.shipping_address["postal_code"] == "N1 7AB"
    assert labels(str(order.pk)) == {"live": 1, "voided": 0}


def open_form(page, log_in, order):
    """Sign in, open the order whose address the carrier refused, and its Change address form."""
    log_in(page, "olga", PASSWORD, path="/admin/login/")
    page.goto(reverse("admin:fulfillment_order_change", args=[order.pk]))
    assert "AddressRejected" in page.locator(".console-banner-attention").first.inner_text()
    page.locator("#operator-actions").get_by_role("link", name="Change address").click()
    assert page.get_by_label("Postcode").input_value() == UNDELIVERABLE_POSTCODE
    return page
