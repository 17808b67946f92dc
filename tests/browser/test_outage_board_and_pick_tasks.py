"""The outage board and the pick-task list in a browser: the board's reason field and last
outage fit a phone, and the pick-task list keeps its dated columns in sight at 1280 px, each
written with its zone."""

import re

from django.urls import reverse

from fulfillment.simulators.outages import outage_set
from tests.admin.conftest import SCENARIOS
from tests.browser.conftest import BROWSER_DB
from tests.browser.test_console_layout import LAPTOP, PHONE, inside, sign_in_operator
from tests.factories import make_catalogue

pytestmark = BROWSER_DB
WITH_ZONE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$")


def test_pick_task_list_shows_its_dated_columns_at_1280_px(browser_page, log_in, screenshot):
    make_catalogue()
    SCENARIOS["awaiting_pick"]()
    page = sign_in_operator(browser_page, log_in, LAPTOP)

    page.goto(reverse("admin:fulfillment_picktask_changelist"))
    screenshot(page, "1280")

    assert inside(page, "#result_list thead th", "#changelist .results") == []
    for column in ("created_at", "due_at"):
        assert WITH_ZONE.match(page.locator(f"#result_list td.field-{column}").first.inner_text())


def test_outage_board_fits_a_phone_with_its_reason_and_last_outage(browser_page, log_in, screenshot):
    outage_set(service="mail", on=True, by="olga", reason="mail rehearsal")
    outage_set(service="mail", on=False, by="olga")
    outage_set(service="carrier", on=True, by="olga", reason="carrier rehearsal before the sale")
    page = sign_in_operator(browser_page, log_in, PHONE)

    page.goto(reverse("admin:simulators_outage_changelist"))
    screenshot(page, "390")

    assert "carrier rehearsal before the sale" in page.locator("#outage-carrier").inner_text()
    assert "mail rehearsal" in page.locator("#outage-mail .outage-last").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
