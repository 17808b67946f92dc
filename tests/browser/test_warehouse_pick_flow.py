"""A warehouse worker on a phone: sign in, list, claim, confirm, and the order completes."""

from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.db.models import F

from fulfillment.models import Order, OrderState, PickProblem, PickTask, Stock, WarehouseAssignment
from fulfillment.picking import conf
from fulfillment.picking.tasks import pick_task_claim, pick_task_report_problem
from fulfillment.warehouse.access import WORKER_GROUP
from tests.browser.conftest import BROWSER_DB
from tests.factories import make_catalogue, run_due
from tests.fulfillment.picking.conftest import BINS, PASSWORD, order_waiting_for_pick

pytestmark = BROWSER_DB
MIN_TAP = 48  # CSS pixels: the smallest target a gloved thumb should have to hit
# What a worker taps; an input inside a <label> is tapped through its label.
TAP_TARGETS = "main button, main a, main input:not([type=hidden]), main textarea, header button, header a"


def setup_floor():
    catalogue = make_catalogue()
    for sku, bin_location in BINS.items():
        Stock.objects.filter(product__sku=sku).update(bin_location=bin_location)
    alice = User.objects.create_user("alice", password=PASSWORD)
    alice.groups.add(Group.objects.get_or_create(name=WORKER_GROUP)[0])
    WarehouseAssignment.objects.create(user=alice, warehouse=catalogue.warehouse)
    return alice


def test_worker_picks_an_order_on_a_phone(browser_page, log_in, screenshot):
    setup_floor()
    order = order_waiting_for_pick()
    other = order_waiting_for_pick(lines=[("TEE-042", 3)])
    earlier = conf.seconds("WARNING_AFTER") + timedelta(minutes=1)  # opened long ago: close to late
    PickTask.objects.filter(order=other).update(
        created_at=F("created_at") - earlier, due_at=F("due_at") - earlier
    )
    short = str(order.pk)[:8].upper()
    page = browser_page("phone")

    log_in(page, "alice", PASSWORD)
    assert page.url.endswith("/warehouse/")
    page.get_by_text(f"Order {short}").wait_for()
    assert_fits_the_screen(page)
    screenshot(page, "1-list")

    page.get_by_text(f"Order {short}").click()
    page.get_by_role("button", name="Claim this task").wait_for()
    assert_fits_the_screen(page)
    screenshot(page, "2-task")

    page.get_by_role("button", name="Claim this task").click()
    page.get_by_text("Claimed: it is yours").wait_for()
    assert_fits_the_screen(page)
    screenshot(page, "3-claimed")

    lines = list(order.lines.all())
    fill_pick(page, lines, wrong_sku={lines[1].pk: "MUG-001"})
    page.get_by_role("button", name="Confirm pick").click()
    page.get_by_text("Line 2: SKU MUG-001 is not TEE-042").wait_for()
    assert PickTask.objects.get(order=order).status == PickTask.Status.CLAIMED
    screenshot(page, "4-refused")

    fill_pick(page, lines)
    page.get_by_role("button", name="Confirm pick").click()
    page.get_by_text("Picked. The order goes on to shipping.").wait_for()
    assert PickTask.objects.get(order=order).status == PickTask.Status.DONE
    screenshot(page, "5-picked")

    run_due(order)  # the engine's worker, here in the test process, runs the next step
    assert Order.objects.get(pk=order.pk).state == OrderState.COMPLETED
    page.reload()
    assert page.get_by_test_id("order-state").inner_text() == "Completed"
    screenshot(page, "6-completed")

    page.goto(f"/warehouse/tasks/{PickTask.objects.get(order=order).pk}/label/")
    page.get_by_role("img", name=f"Barcode {order.shipments.get().tracking_number}").wait_for()
    assert_fits_the_screen(page)
    screenshot(page, "7-label")


def test_problem_report_on_a_small_phone(browser_page, log_in, screenshot):
    alice = setup_floor()
    order = order_waiting_for_pick()
    task = PickTask.objects.get(order=order)
    page = browser_page("small-phone")
    log_in(page, "alice", PASSWORD)
    page.goto(f"/warehouse/tasks/{task.pk}/")
    page.get_by_role("button", name="Claim this task").click()
    page.get_by_role("link", name="Report a problem").click()
    page.get_by_label("Item damaged").check()
    page.get_by_label("Details for the operator").fill("Mug arrived chipped from the supplier.")
    assert_fits_the_screen(page)
    screenshot(page, "1-problem-form")

    page.get_by_role("button", name="Report problem").click()
    page.get_by_text("Your claim is released: the task is no longer yours.").wait_for()
    assert_fits_the_screen(page)
    screenshot(page, "2-reported")
    order.refresh_from_db()
    assert order.needs_attention and "Item damaged reported by alice" in order.attention_reason
    assert PickTask.objects.get(pk=task.pk).problem_reported_by == alice


def test_a_task_held_for_an_operator_on_a_phone(browser_page, log_in, screenshot):
    """After alice's report the list and the task say the task waits for an operator, and
    nobody is offered a claim."""
    alice = setup_floor()
    order = order_waiting_for_pick()
    task = PickTask.objects.get(order=order)
    pick_task_claim(task_id=task.pk, worker=alice)
    pick_task_report_problem(task_id=task.pk, worker=alice, problem=PickProblem.MISSING, note="Bin empty")
    short = str(order.pk)[:8].upper()
    page = browser_page("phone")
    log_in(page, "alice", PASSWORD)

    card = page.locator("a.task", has_text=f"Order {short}")
    card.get_by_text("Held for an operator").wait_for()
    assert card.get_by_text("Problem: Item missing").is_visible()
    assert_fits_the_screen(page)
    screenshot(page, "1-list")

    card.click()
    held = page.get_by_test_id("problem-held")
    held.wait_for()
    assert "Item missing reported by alice" in held.inner_text()
    assert page.get_by_role("button", name="Claim this task").count() == 0
    assert_fits_the_screen(page)
    screenshot(page, "2-task")


def fill_pick(page, lines, wrong_sku=None):
    for line in lines:
        sku = (wrong_sku or {}).get(line.pk, line.sku)
        page.fill(f"input[name=sku_{line.pk}]", sku)
        page.fill(f"input[name=qty_{line.pk}]", str(line.quantity))


def assert_fits_the_screen(page):
    """Nothing scrolls sideways, and every button, link and input is big enough to tap."""
    width = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert width <= 0, f"the page is {width}px wider than the screen"
    small = page.evaluate(
        """(min) => [...document.querySelectorAll(TARGETS)]
            .filter(e => e.offsetParent !== null)
            .map(e => [e, (e.closest('label') || e).getBoundingClientRect()])
            .filter(([, box]) => box.height < min)
            .map(([e, box]) => `${e.outerHTML.slice(0, 60)} ${box.width | 0}x${box.height | 0}`)
        """.replace("TARGETS", repr(TAP_TARGETS)),
        MIN_TAP,
    )
    assert not small, f"tap targets smaller than {MIN_TAP}px: {small}"
