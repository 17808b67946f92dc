"""The 403 and 404 pages in a browser: in the admin's look or the warehouse's, each says what
was refused, what the person may do instead, and signs them out when asked."""

from django.contrib.auth.models import Group, User
from django.urls import reverse

from fulfillment.roles import OPERATORS, SUPPORT
from fulfillment.warehouse.access import WORKER_GROUP
from tests.admin.conftest import make_user
from tests.browser.conftest import BROWSER_DB

pytestmark = BROWSER_DB
PASSWORD = "a-long-enough-password"
LAPTOP = {"width": 1280, "height": 800}


def user_with_password(username: str, group: str, *, staff: bool = True) -> User:
    if group == WORKER_GROUP:
        user = User.objects.create_user(username, password=PASSWORD, is_staff=staff)
        user.groups.add(Group.objects.get_or_create(name=WORKER_GROUP)[0])
        return user
    user = make_user(username, group, staff=staff)
    user.set_password(PASSWORD)
    user.save()
    return user


def test_operator_at_the_warehouse_login_is_told_it_is_for_workers(browser_page, screenshot):
    """Even when `next` is a warehouse page (where a sign-in from one starts), an operator lands
    on the console, told why, instead of on the warehouse's refusal."""
    user_with_password("olga", OPERATORS)
    page = browser_page(LAPTOP)

    page.goto(reverse("warehouse:tasks"))  # a stranger is sent to sign in, next=/warehouse/
    page.wait_for_url("**/warehouse/login/?next=**")
    page.fill("input[name=username]", "olga")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    screenshot(page, "1280")
    assert page.url.endswith("/admin/")
    assert "The warehouse pages are for warehouse workers, and olga is not one" in (
        page.locator(".messagelist").inner_text()
    )


def test_signed_in_operator_on_a_warehouse_page_gets_the_warehouse_403(browser_page, log_in, screenshot):
    user_with_password("olga", OPERATORS)
    page = browser_page("phone")
    log_in(page, "olga", PASSWORD, path="/admin/login/")

    response = page.goto(reverse("warehouse:tasks"))
    assert response.status == 403
    screenshot(page, "390")
    assert "Only warehouse workers can use these pages." in page.locator("#refusal").inner_text()
    assert page.locator(".bar").is_visible()  # the warehouse's look, not Django's bare page
    assert page.get_by_role("link", name="Open the console").is_visible()

    page.get_by_role("button", name="Sign out and sign in as someone else").click()
    page.wait_for_url("**/warehouse/login/**")
    assert not any(c["name"] == "sessionid" for c in page.context.cookies())


def test_support_user_on_an_action_gets_the_admin_403(browser_page, log_in, screenshot):
    user_with_password("sam", SUPPORT)
    page = browser_page(LAPTOP)
    log_in(page, "sam", PASSWORD, path="/admin/login/")

    response = page.goto(reverse("admin:fulfillment_order_operator", args=["retry"]))
    assert response.status == 403
    screenshot(page, "1280")
    assert page.locator("#site-name").is_visible()  # the admin's header
    assert "signed in as sam" in page.locator("#content-main").inner_text()
    instead = page.locator("#instead")
    assert instead.get_by_role("link", name="Go to the dashboard").is_visible()

    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "390")
    instead.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()
    assert not any(c["name"] == "sessionid" for c in page.context.cookies())


def test_missing_pages_in_each_look(browser_page, log_in, screenshot):
    user_with_password("sam", SUPPORT)
    user_with_password("alice", WORKER_GROUP, staff=False)
    admin_page = browser_page(LAPTOP)
    log_in(admin_page, "sam", PASSWORD, path="/admin/login/")
    response = admin_page.goto("/orders/1234/")  # a mistyped link
    assert response.status == 404
    screenshot(admin_page, "admin-1280")
    assert "There is no page at" in admin_page.locator("#missing").inner_text()
    assert admin_page.locator("#instead").get_by_role("link", name="Search the orders").is_visible()

    phone = browser_page("phone")
    log_in(phone, "alice", PASSWORD)
    response = phone.goto(reverse("warehouse:task", args=[999999]))
    assert response.status == 404
    screenshot(phone, "warehouse-390")
    assert "There is no such page or task here." in phone.locator("#missing").inner_text()
    phone.get_by_role("link", name="Back to my tasks").click()
    phone.wait_for_url("**/warehouse/")
