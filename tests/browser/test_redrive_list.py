"""An operator finds a past redrive: from the Incidents page to the list of every redrive, and
from its row to its step's page, at 1280 px and on a 390 px phone."""

from django.urls import reverse

from processes.flow import operators
from processes.journal import Actor
from processes.models.journal import ActorType
from tests.browser.conftest import BROWSER_DB
from tests.browser.test_console_layout import LAPTOP, PHONE, inside, sign_in_operator
from tests.circuit_scenarios import LABEL, attention_at_confirmation
from tests.factories import make_catalogue

pytestmark = BROWSER_DB


def test_from_the_incidents_page_to_every_redrive_and_to_its_step(browser_page, log_in, screenshot):
    make_catalogue()
    attention_at_confirmation(2)
    redrive, _ = operators.start_redrive(
        LABEL, "send_confirmation", actor=Actor(ActorType.OPERATOR, "olga"), reason="mail relay is back"
    )
    operators.run_redrive(redrive.pk)
    page = sign_in_operator(browser_page, log_in, LAPTOP)

    page.goto(reverse("admin:processes_circuit_changelist"))
    page.get_by_role("link", name="All redrives").click()
    page.locator("#result_list").wait_for()
    screenshot(page, "1280")
    assert page.locator("#result_list tbody tr").count() == 1
    assert inside(page, "#result_list thead th", "#changelist .results") == []
    assert page.locator("td.field-done_of_total").inner_text() == "2 / 2"

    page.set_viewport_size(PHONE)
    screenshot(page, "390")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.set_viewport_size(LAPTOP)

    page.locator("td.field-started a").click()
    page.locator("#redrive").wait_for()
    assert page.url.endswith(reverse("admin:processes_circuit_step", args=[LABEL, "send_confirmation"]))
    assert "mail relay is back" in page.locator("#redrive").inner_text()
