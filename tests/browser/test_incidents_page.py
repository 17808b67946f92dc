"""An operator in the admin during a carrier outage: finds the incident from the dashboard,
pauses the step and resumes it; a redrive's progress refreshes itself on the page."""

from datetime import timedelta

from django.urls import reverse

from fulfillment.roles import OPERATORS
from processes import clock
from processes.flow import operators
from processes.models.flow import Circuit, CircuitState, Redrive
from tests.admin.conftest import make_user
from tests.browser.conftest import BROWSER_DB
from tests.circuit_scenarios import LABEL, attention_at_confirmation, open_label_circuit
from tests.factories import make_catalogue

pytestmark = BROWSER_DB
PASSWORD = "a-long-enough-password"


def sign_in_operator(browser_page, log_in, viewport="desktop"):
    operator = make_user("olga", OPERATORS)
    operator.set_password(PASSWORD)
    operator.save()
    page = browser_page(viewport)
    log_in(page, "olga", PASSWORD, path="/admin/login/")
    return page


def test_operator_pauses_and_resumes_a_failing_step(browser_page, log_in, screenshot):
    make_catalogue()
    open_label_circuit(then=3)
    page = sign_in_operator(browser_page, log_in)

    page.goto(reverse("admin:fulfillment_order_dashboard"))
    assert page.locator("#card-incidents .console-card-number").inner_text() == "1"
    screenshot(page, "1-dashboard")
    page.locator("#card-incidents").click()
    row = page.locator("#incident-create_label")
    row.wait_for()
    line = row.inner_text()
    assert "Stopped" in line and "10/10 (100 %)" in line and "10×" in line and "ServiceUnavailable" in line
    screenshot(page, "2-incidents")
    page.set_viewport_size({"width": 820, "height": 1180})  # a tablet: the tables still fit
    screenshot(page, "2-incidents-narrow")
    page.set_viewport_size({"width": 1366, "height": 900})

    row.get_by_role("link", name="create_label").click()
    assert "Stopped: outage since" in page.locator(".incident-banner").inner_text()
    screenshot(page, "3-step")

    page.locator("#action-pause").click()
    until = (clock.now() + timedelta(hours=1)).replace(second=0, microsecond=0)
    page.get_by_label("Reason").fill("carrier maintenance until they call back")
    page.get_by_label("Until (UTC)").fill(until.strftime("%Y-%m-%dT%H:%M"))
    screenshot(page, "4-confirm-pause")
    page.get_by_role("button", name="Yes, pause").click()
    page.locator(".messagelist .success").wait_for()
    assert "The create_label step is paused until" in page.locator(".messagelist").inner_text()
    assert "Paused by olga" in page.locator(".incident-banner").inner_text()
    screenshot(page, "5-paused")
    circuit = Circuit.objects.get(process_type=LABEL, step="create_label")
    assert circuit.state == CircuitState.PAUSED and circuit.paused_until == until

    page.locator("#action-resume").click()
    page.get_by_label("Reason").fill("carrier is back")
    page.get_by_role("button", name="Yes, resume now").click()
    page.locator(".messagelist .success").wait_for()
    assert page.locator(".incident-banner").inner_text().startswith("Normal: ")
    assert "Resumed" in page.locator("#history").inner_text()
    screenshot(page, "6-resumed")
    assert Circuit.objects.get(pk=circuit.pk).state == CircuitState.CLOSED


def test_redrive_progress_refreshes_itself(browser_page, log_in, screenshot):
    make_catalogue()
    attention_at_confirmation(2)
    page = sign_in_operator(browser_page, log_in)

    page.goto(reverse("admin:processes_circuit_step", args=[LABEL, "send_confirmation"]))
    page.locator("#action-redrive").click()
    page.get_by_label("Reason").fill("mail relay is back")
    page.get_by_role("button", name="Yes, redrive").click()
    page.locator(".messagelist .success").wait_for()
    progress = page.locator("#redrive .incident-redrive")
    assert progress.inner_text().split() == ["0/2", "running"]
    screenshot(page, "1-running")

    redrive = Redrive.objects.get()
    with page.expect_navigation():  # the page reloads itself when the redrive has finished
        operators.run_redrive(redrive.pk)  # the background task, while the page is open
    assert progress.inner_text().split() == ["2/2", "finished"]
    assert page.locator("#figure-redrivable").inner_text().startswith("0")
    assert f"redrive {redrive.pk} finished" in page.locator("#history").inner_text()
    screenshot(page, "2-finished")
