"""A warehouse worker on a phone: scan a return parcel in, judge its lines, and the return
goes on to its refund."""

from fulfillment.models import InspectionTask, ReturnLine, ReturnState
from tests.browser.conftest import BROWSER_DB
from tests.browser.test_warehouse_pick_flow import assert_fits_the_screen, setup_floor
from tests.fulfillment.picking.conftest import PASSWORD
from tests.fulfillment.warehouse.return_fixtures import return_at, short
from tests.return_factories import drive_return, run_due_return

pytestmark = BROWSER_DB


def test_worker_scans_a_return_parcel_and_inspects_it_on_a_phone(browser_page, log_in, screenshot):
    setup_floor()
    ret = return_at("await_parcel", parcel=False)
    mug, tee = ret.lines.order_by("pk")
    tracking = ret.labels.get().tracking_number
    page = browser_page("phone")

    log_in(page, "alice", PASSWORD)
    page.get_by_text("No returns to inspect.").wait_for()
    assert_fits_the_screen(page)
    screenshot(page, "1-list")

    page.get_by_role("link", name="Scan a return parcel").click()
    page.get_by_label("Tracking number").fill("SP000000000000")
    page.get_by_role("button", name="Receive parcel").click()
    page.get_by_text("No return of your warehouse has tracking number SP000000000000.").wait_for()
    assert_fits_the_screen(page)
    screenshot(page, "2-unknown-parcel")

    page.get_by_label("Tracking number").fill(tracking)
    page.get_by_role("button", name="Receive parcel").click()
    page.get_by_text(f"Parcel {tracking} received: return {short(ret)} goes to inspection.").wait_for()
    assert_fits_the_screen(page)
    screenshot(page, "3-received")

    run_due_return(ret)  # the engine's worker, here in the test process, opens the inspection
    page.get_by_role("link", name="Inspect it now").click()
    page.get_by_role("button", name="Save inspection").wait_for()
    assert page.get_by_text("Enamel mug").is_visible() and page.get_by_text("TEE-042").is_visible()
    assert_fits_the_screen(page)
    screenshot(page, "4-inspection")

    page.check(f"input[name=verdict_{mug.pk}][value=accept]")
    page.check(f"input[name=verdict_{tee.pk}][value=reject]")
    page.get_by_role("button", name="Save inspection").click()
    page.get_by_text("Line 2: say why it is rejected.").wait_for()
    assert InspectionTask.objects.get(ret=ret).status == InspectionTask.Status.OPEN
    assert_fits_the_screen(page)
    screenshot(page, "5-reason-missing")

    page.fill(f"input[name=reason_{tee.pk}]", "Worn, with a stain on the front")
    page.get_by_role("button", name="Save inspection").click()
    page.get_by_text(f"Return {short(ret)} inspected: 1 line accepted, 1 rejected.").wait_for()
    assert list(ret.lines.order_by("pk").values_list("verdict", flat=True)) == [
        ReturnLine.Verdict.ACCEPTED,
        ReturnLine.Verdict.REJECTED,
    ]
    assert_fits_the_screen(page)
    screenshot(page, "6-inspected")

    assert drive_return(ret).state == ReturnState.COMPLETED
    page.reload()
    assert page.get_by_test_id("return-state").inner_text() == "Completed"
    screenshot(page, "7-completed")


def test_the_task_list_and_an_inspection_on_a_desk_screen(browser_page, log_in, screenshot):
    setup_floor()
    ret = return_at("inspect", parcel=True)
    page = browser_page({"width": 1280, "height": 900})
    log_in(page, "alice", PASSWORD)
    page.get_by_text(f"Return {short(ret)}").wait_for()
    assert page.get_by_text("3 items on 2 lines to judge").is_visible()
    screenshot(page, "1-list")
    page.get_by_text(f"Return {short(ret)}").click()
    page.get_by_role("button", name="Save inspection").wait_for()
    screenshot(page, "2-inspection")
