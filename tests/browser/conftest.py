"""Browser tests: Playwright driving Debian's Chromium headless against a live server.

Shared by every page's browser tests (warehouse, admin). Use:

    pytestmark = BROWSER_DB                  # live server tests need real commits

    def test_something(live_server, browser_page, log_in, screenshot):
        page = browser_page(viewport="phone")            # or "tablet", "desktop", {"width": .., "height": ..}
        log_in(page, "alice", "secret", path="/admin/login/")
        screenshot(page, "after-login")                  # screenshots/<test name>-after-login.png

The browser is Debian's (`apt-get install chromium`, which `make test` does when it is
missing), never one that Playwright downloads; the tests are skipped when it is absent.
Screenshots go to the git-ignored `screenshots/` folder at the top of the repository.
"""

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"
VIEWPORTS = {
    "phone": {"width": 390, "height": 844},  # a common phone in portrait
    "small-phone": {"width": 360, "height": 640},
    "tablet": {"width": 820, "height": 1180},
    "desktop": {"width": 1366, "height": 900},
}
TIMEOUT_MS = 10_000

BROWSER_DB = pytest.mark.django_db(transaction=True, databases=["default", "simulators"])


@pytest.fixture(scope="package")
def chromium_browser():
    """One headless Chromium for the browser tests of this package.

    While Playwright's event loop runs, Django refuses ORM calls from this thread ("async
    context"); the tests need them for their data, so the guard is lifted for exactly as long
    as the browser lives.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_page(chromium_browser, live_server) -> Callable:
    """browser_page(viewport="phone") -> a Page in a fresh context (no cookies), opened on the
    live server's root; touch is on for phone and tablet viewports. Closed after the test."""
    contexts = []

    def open_page(viewport: str | dict = "phone", **context_options):
        size = VIEWPORTS[viewport] if isinstance(viewport, str) else viewport
        touch = size["width"] < 1024
        context = chromium_browser.new_context(
            viewport=size,
            base_url=live_server.url,
            has_touch=touch,
            is_mobile=touch,
            device_scale_factor=2 if touch else 1,
            **context_options,
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def log_in() -> Callable:
    """log_in(page, username, password, path="/warehouse/login/"): sign in through a Django
    login form (the warehouse's or the admin's: both use `username` and `password`)."""

    def sign_in(page, username: str, password: str, *, path: str = "/warehouse/login/") -> None:
        page.goto(path)
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password)
        with page.expect_navigation():
            page.locator("form:has(input[name=password]) [type=submit]").click()
        if page.locator("input[name=password]").count():
            raise AssertionError(f"signing in as {username} at {path} failed: {page.url}")

    return sign_in


@pytest.fixture
def screenshot(request) -> Callable:
    """screenshot(page, "step") saves screenshots/<test name>-<step>.png (full page) and returns
    its path, so a person can look at what the test saw."""

    def take(page, step: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "-", f"{request.node.name}-{step}").strip("-")
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
