"""A shop's developer in Swagger UI: the Authorize dialog offers the token first and says to
type `Token <key>`; typed so, the token works for "Try it out"."""

from fulfillment.api.clients import api_client_create
from tests.browser.conftest import BROWSER_DB

pytestmark = BROWSER_DB
LAPTOP = {"width": 1280, "height": 900}


def test_authorize_with_the_token_in_swagger_ui(browser_page, screenshot):
    key, _ = api_client_create(name="shop")
    page = browser_page(LAPTOP)
    page.goto("/api/docs/")
    page.get_by_role("button", name="Authorize").first.click()

    schemes = page.locator(".dialog-ux form")  # one form per scheme, in the schema's order
    schemes.first.wait_for()
    assert schemes.count() == 2
    token = schemes.nth(0)
    assert "tokenAuth" in token.locator("h4").inner_text()
    assert "Type the word Token, a space, then your key" in token.inner_text()
    assert "cookieAuth" in schemes.nth(1).locator("h4").inner_text()
    screenshot(page, "1-authorize", full_page=False)

    token.locator("input").fill(f"Token {key}")
    token.locator("button", has_text="Authorize").click()  # its accessible name: "Apply credentials"
    token.locator("button", has_text="Logout").wait_for()
    page.locator(".dialog-ux button.close-modal").click()

    listing = page.locator(".opblock-get", has_text="/api/orders/").first
    listing.locator(".opblock-summary").click()
    listing.locator("button", has_text="Try it out").click()
    listing.locator("button", has_text="Execute").click()
    status = listing.locator(".live-responses-table .response .response-col_status").first
    status.wait_for()
    assert status.inner_text().strip() == "200"
    screenshot(page, "2-tried", full_page=False)
