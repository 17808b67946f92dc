"""The simulators' ledgers and the outage board read well where a tester reads them: at 1280 px,
beside the admin's side bar and the filters, every ledger shows its columns without scrolling
and the page never widens; on a 390 px phone the table scrolls inside its box, not the page.

Long values come shortened with the full value in the cell's title (a hover, a copy), so the
page still answers "what did the gateway hold for order X?"."""

from django.urls import reverse

from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import ChargeRecord, RefundRecord
from fulfillment.simulators.outages import outage_set
from processes import clock
from tests.admin.conftest import SCENARIOS
from tests.browser.conftest import BROWSER_DB
from tests.browser.test_console_layout import LAPTOP, PHONE, inside, sign_in_operator
from tests.factories import drive, make_catalogue, place_order

pytestmark = BROWSER_DB

# Each ledger list (and the fault rules beside them) and the columns a tester reads on it, by
# their list_display names.
LEDGERS = {
    "chargerecord": ["charge", "reference_short", "amount_and_currency", "status_and_reason", "created"],
    "refundrecord": ["refund", "charge_short", "reference_short", "amount", "full", "created"],
    "labelrecord": ["tracking_number", "reference_short", "weight_grams", "created", "voided"],
    "sentmail": ["message", "reference_short", "subject_short", "duplicate_offers", "sent"],
    "idempotencyrecord": ["service", "operation", "key_short", "reference_short", "error", "created"],
    "refusedcall": ["refused_at", "service", "operation", "reason", "reference_short", "key_short"],
    "receivedcall": ["received_at", "service", "operation", "account", "reference_short", "key_short"],
    "faultrule": ["service", "operation", "mode", "remaining", "reference_short", "account", "created"],
}

LONG_REASON = (
    "carrier rehearsal before the winter sale, agreed with the warehouse's night shift; "
    "bring it back once the retries have drained and the label queue is empty again"
)


def ledgers_filled():
    """Rows in every ledger through the real workflow: a completed order (charge, label, mail),
    a declined card (a declined charge), a label refused for good (refused calls, a refund), and a
    fault rule still waiting for its order."""
    make_catalogue()
    completed = SCENARIOS["completed"]()
    SCENARIOS["cancelled"]()
    refunded = place_order()
    fault_add(service="carrier", operation="create_label", mode="unavailable", times=6)
    with clock.frozen(clock.now()):
        drive(refunded)
    assert ChargeRecord.objects.filter(status="declined").exists()
    assert RefundRecord.objects.filter(reference=str(refunded.pk)).exists()
    fault_add(
        service="carrier", operation="create_label", mode="timeout_before_effect", reference=str(completed.pk)
    )
    return completed


def page_width(page) -> tuple[int, int]:
    return page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")


def test_ledgers_fit_1280_px_and_scroll_in_their_box_on_a_phone(browser_page, log_in, screenshot):
    """At 1280 px each ledger's headers and first row lie inside the viewport and the list's box;
    at 390 px the page keeps its width and the list's box scrolls; a cut reference keeps the
    full order id in its title."""
    order = ledgers_filled()
    page = sign_in_operator(browser_page, log_in, LAPTOP)

    for ledger, columns in LEDGERS.items():
        page.set_viewport_size(LAPTOP)
        page.goto(reverse(f"admin:simulators_{ledger}_changelist"))
        screenshot(page, f"{ledger}-1280", full_page=False)
        scroll_width, client_width = page_width(page)
        assert scroll_width <= client_width, (ledger, scroll_width)
        for column in columns:
            assert page.locator(f"#result_list thead th.column-{column}").is_visible(), (ledger, column)
        for box in (None, "#changelist .results"):  # the viewport, and the list's own scrolling box
            assert inside(page, "#result_list thead th", box) == [], ledger
            assert inside(page, "#result_list tbody tr:first-child > *", box) == [], ledger

        page.set_viewport_size(PHONE)
        screenshot(page, f"{ledger}-390", full_page=False)
        scroll_width, client_width = page_width(page)
        assert scroll_width <= client_width, (ledger, scroll_width)
        results = page.locator("#changelist .results")
        assert results.evaluate("box => getComputedStyle(box).overflowX") in ("auto", "scroll"), ledger
        assert results.bounding_box()["width"] <= PHONE["width"], ledger

    # A shortened reference keeps the full one in its title: the charge of the completed order.
    page.goto(reverse("admin:simulators_chargerecord_changelist") + f"?q={order.pk}")
    reference = page.locator("#result_list td.field-reference_short .ledger-short")
    assert reference.inner_text() == f"{str(order.pk)[:8]}…"
    assert reference.get_attribute("title") == str(order.pk)


def test_outage_board_with_a_long_reason_fits_1280_px_and_a_phone(browser_page, log_in, screenshot):
    """A long reason wraps inside the board at 1280 px with both buttons in sight; on a phone each
    service is a card a line wide and the page keeps its width."""
    outage_set(service="payment", on=True, by="olga", reason="payment rehearsal")
    outage_set(service="payment", on=False, by="olga")
    outage_set(service="carrier", on=True, by="olga", reason=LONG_REASON)
    page = sign_in_operator(browser_page, log_in, LAPTOP)

    page.goto(reverse("admin:simulators_outage_changelist"))
    screenshot(page, "1280", full_page=False)
    assert page_width(page)[0] <= LAPTOP["width"]
    assert inside(page, "#outage-board thead th") == []
    assert inside(page, "#outage-board tbody td, #outage-board tbody th") == []
    assert LONG_REASON in page.locator("#outage-carrier").inner_text()
    assert page.locator("#outage-carrier button").is_visible()  # Bring back up, in sight
    assert page.locator("#outage-mail button").is_visible()  # Take down

    page.set_viewport_size(PHONE)
    screenshot(page, "390")
    assert page_width(page)[0] <= PHONE["width"]
    assert inside(page, "#outage-board tbody tr > *") == []
    # Each service reads as a card on a phone: its state a full line wide, not a squeezed column.
    state = page.locator("#outage-carrier td[data-label=State]").bounding_box()
    assert state["width"] >= PHONE["width"] * 0.8, state
