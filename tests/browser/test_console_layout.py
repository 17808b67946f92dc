"""The operator console's tables fit the screen an operator has: at 1280 px the order list
shows every column it can be sorted by without scrolling sideways, and the Incidents table
shows its last column inside its box."""

from django.urls import reverse

from fulfillment.roles import OPERATORS
from processes.flow import operators
from processes.journal import Actor
from tests.admin.conftest import SCENARIOS, make_user
from tests.browser.conftest import BROWSER_DB
from tests.circuit_scenarios import LABEL, open_label_circuit
from tests.factories import make_catalogue

pytestmark = BROWSER_DB
PASSWORD = "a-long-enough-password"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}


def sign_in_operator(browser_page, log_in, viewport):
    operator = make_user("olga", OPERATORS)
    operator.set_password(PASSWORD)
    operator.save()
    page = browser_page(viewport)
    log_in(page, "olga", PASSWORD, path="/admin/login/")
    return page


def inside(page, selector: str, box_selector: str | None = None) -> list[str]:
    """The elements matching `selector` whose box sticks out of the viewport (or of the
    element `box_selector`), described for the failure message."""
    return page.evaluate(
        """([selector, boxSelector]) => {
            const limit = boxSelector
                ? document.querySelector(boxSelector).getBoundingClientRect()
                : {left: 0, right: document.documentElement.clientWidth};
            return [...document.querySelectorAll(selector)]
                .filter(e => { const r = e.getBoundingClientRect();
                               return r.left < limit.left - 0.5 || r.right > limit.right + 0.5; })
                .map(e => `${e.className || e.tagName}: ${e.textContent.trim().slice(0, 30)}`);
        }""",
        [selector, box_selector],
    )


def test_order_list_shows_its_sortable_columns_at_1280_px(browser_page, log_in, screenshot):
    make_catalogue()
    for name in ("attention_confirmation", "backing_off_label", "awaiting_pick", "completed"):
        SCENARIOS[name]()
    page = sign_in_operator(browser_page, log_in, LAPTOP)

    page.goto(reverse("admin:fulfillment_order_changelist"))
    screenshot(page, "1280")
    headers = page.locator("#result_list thead th.sortable")
    assert headers.count() >= 7  # order, state, step, attention, in state for, next attempt, deadline
    for box in (None, "#changelist .results"):  # the viewport, and the list's scrolling box
        assert inside(page, "#result_list thead th.sortable", box) == []
        assert inside(page, "#result_list thead th", box) == []  # and the rest, customer included
    # The room this layout kept for one more column now holds why each order waits.
    assert page.locator("#result_list thead th.column-waiting").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]

    page.set_viewport_size(PHONE)
    screenshot(page, "390")


def test_incidents_table_shows_its_last_column(browser_page, log_in, screenshot):
    make_catalogue()
    open_label_circuit(then=3)
    operators.start_redrive(LABEL, "create_label", actor=Actor("operator", "olga"), reason="carrier is back")
    page = sign_in_operator(browser_page, log_in, LAPTOP)

    page.goto(reverse("admin:processes_circuit_changelist"))
    page.locator("#incident-create_label").wait_for()
    screenshot(page, "1280")
    assert inside(page, "#incidents thead th", "#incidents") == []
    assert page.locator("#incident-create_label .incident-redrive").is_visible()  # the last column
    assert inside(page, "#incident-create_label > *", "#incidents") == []

    page.set_viewport_size(PHONE)
    screenshot(page, "390")


def test_dashboard_charts_stay_readable_on_a_phone_and_the_page_refreshes_itself(
    browser_page, log_in, screenshot
):
    make_catalogue()
    SCENARIOS["completed"]()
    page = sign_in_operator(browser_page, log_in, PHONE)

    page.goto(reverse("admin:fulfillment_order_dashboard"))
    chart = page.locator("#chart-states svg")
    chart.scroll_into_view_if_needed()
    screenshot(page, "390")
    assert chart.bounding_box()["width"] >= 560  # scrolls sideways in its box rather than shrink
    assert page.locator('meta[http-equiv="refresh"]').get_attribute("content") == "30"
    with page.expect_navigation(timeout=40_000):  # it reloads itself
        pass
    assert page.locator("#chart-states svg").is_visible()
