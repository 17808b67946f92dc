"""An operator in the admin: signs in, finds the stuck order, retries it, and sees it complete."""

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Order, OrderState
from fulfillment.roles import OPERATORS
from processes import clock
from tests.admin.conftest import SCENARIOS, make_user
from tests.browser.conftest import BROWSER_DB
from tests.factories import make_catalogue, run_due

pytestmark = BROWSER_DB
PASSWORD = "a-long-enough-password"


def test_operator_retries_a_stuck_order(browser_page, log_in, screenshot):
    make_catalogue()
    operator = make_user("olga", OPERATORS)
    operator.set_password(PASSWORD)
    operator.save()
    with clock.frozen(timezone.now() - timedelta(minutes=30)):  # a history that lies in the past
        healthy = SCENARIOS["completed"]()
        stuck = SCENARIOS["attention_confirmation"]()
    short = str(stuck.pk)[:8]
    page = browser_page("desktop")

    log_in(page, "olga", PASSWORD, path="/admin/login/")
    page.goto(reverse("admin:fulfillment_order_dashboard"))
    page.locator("#card-stuck").wait_for()
    assert page.locator("#card-stuck .console-card-number").inner_text() == "1"
    screenshot(page, "1-dashboard")

    page.goto(reverse("admin:fulfillment_order_changelist"))
    assert page.locator("#result_list tbody tr").count() == 2
    page.locator("#changelist-filter").get_by_role("link", name="Stuck", exact=True).click()
    page.wait_for_url("**stuck=yes**")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 1 and short in rows.first.inner_text()
    assert str(healthy.pk)[:8] not in page.locator("#result_list").inner_text()
    screenshot(page, "2-stuck-orders")

    rows.first.get_by_role("link", name=short).click()
    banner = page.locator(".console-banner-attention")
    assert "send_confirmation gave up after 8 attempts" in banner.first.inner_text()
    screenshot(page, "3-order")

    page.locator("#operator-actions").get_by_role("link", name="Retry now").click()
    page.get_by_label("Reason").fill("mail relay is back")
    page.get_by_label("Reset attempts").check()
    screenshot(page, "4-confirm")
    page.get_by_role("button", name="Yes, retry now").click()
    page.locator(".messagelist .success").wait_for()
    assert "Retry now: done for 1 order" in page.locator(".messagelist").inner_text()
    assert page.locator(".console-banner-attention").count() == 0
    screenshot(page, "5-retried")

    run_due(Order.objects.get(pk=stuck.pk))  # the worker the retry woke up
    page.reload()
    assert "Completed" in page.locator(".field-state").inner_text()
    journal = page.locator("#timeline").inner_text()
    assert "mail relay is back" in journal and "picked → completed" in journal
    screenshot(page, "6-completed")
    assert Order.objects.get(pk=stuck.pk).state == OrderState.COMPLETED
