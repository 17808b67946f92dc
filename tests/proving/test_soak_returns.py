"""The soak's returns: it asks for a share of the completed orders back, moves each return on
as the client, the carrier and the warehouse would, and its report fails on a return left
moving or stock counted twice."""

import random
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db.models import F

from fulfillment.models import Order, Return, Stock
from fulfillment.proving.invariants import INVARIANTS, invariants_check
from fulfillment.proving.soak_report import SoakReport
from fulfillment.proving.soak_returns import SoakReturns, return_figures, stock_on_hand
from processes import clock
from tests.conftest import ENGINE_DB
from tests.return_factories import completed_order, run_due_return


def run_until_at_rest(returns: SoakReturns, *, rounds: int = 200) -> None:
    """The workers' part in-process: run each moving return when due, jumping the clock."""
    for _ in range(rounds):
        returns.take()
        if not returns.moving:
            return
        for ret in Return.objects.filter(pk__in=list(returns.moving)):
            if ret.next_run_at and ret.next_run_at > clock.now():
                clock.advance(ret.next_run_at - clock.now() + timedelta(milliseconds=1))
            run_due_return(ret)
    raise AssertionError(f"returns still moving: {returns.moving}")


@ENGINE_DB
def test_the_soak_returns_orders_and_brings_every_return_to_rest(catalogue):
    """Every completed order returned (share 1): each return ends completed or cancelled, the
    refunds are the accepted lines', and stock on hand grew by exactly the units put back."""
    with clock.frozen():
        orders = [completed_order(email=f"soak-{n}@example.com") for n in range(12)]
        before = stock_on_hand(catalogue.warehouse)
        returns = SoakReturns(1.0, random.Random(3))
        returns.orders_at_rest({str(order.pk) for order in orders})
        run_until_at_rest(returns)
        figures = return_figures(returns, warehouse=catalogue.warehouse, on_hand_before=before)

    assert figures.requested == 12 and figures.lost == figures.in_flight == 0
    assert figures.completed + figures.cancelled + figures.needs_attention == 12
    assert figures.completed > 0 and figures.cancelled > 0 and figures.lines_rejected > 0
    assert figures.stock_not_counted_once == []
    assert figures.units_restocked > 0
    assert sum(stock_on_hand(catalogue.warehouse).values()) == sum(before.values()) + figures.units_restocked
    assert figures.attempts.get("succeeded", 0) > 0
    assert {name: ids for name, ids in invariants_check(orders=Order.objects.all()).items() if ids} == {}


@ENGINE_DB
def test_stock_moved_by_anything_but_a_restock_is_caught(catalogue):
    with clock.frozen():
        order = completed_order()
        before = stock_on_hand(catalogue.warehouse)
        returns = SoakReturns(1.0, random.Random(1))
        returns.orders_at_rest({str(order.pk)})
        run_until_at_rest(returns)
    Stock.objects.filter(pk=catalogue.stock(catalogue.tee).pk).update(on_hand=F("on_hand") + 1)

    figures = return_figures(returns, warehouse=catalogue.warehouse, on_hand_before=before)

    assert figures.stock_not_counted_once == [str(catalogue.stock(catalogue.tee).pk)]


@pytest.mark.django_db
def test_the_report_prints_the_returns_and_fails_on_one_still_moving():
    report = SoakReport(broker="orm", clusters=1, workers=3, faults="heavy", seed=1, placed=10, completed=10)
    report.violations = {invariant.name: [] for invariant in INVARIANTS}
    report.returns = {
        "requested": 3,
        "completed": 1,
        "cancelled": 1,
        "needs_attention": 0,
        "in_flight": 1,
        "lost": 0,
        "lines_rejected": 1,
        "refunded": "24.00",
        "units_restocked": 2,
        "attempts": {"succeeded": 14, "failed": 3},
        "stock_not_counted_once": [],
    }

    lines = report.lines()

    assert (
        "  returns requested    3: 1 completed, 1 cancelled, 0 needs attention, 1 in flight, 0 lost" in lines
    )
    assert "  returned             1 lines rejected, 24.00 refunded, 2 units back in stock" in lines
    assert "  returns' attempts    3 failed, 14 succeeded" in lines
    assert not report.ok and lines[-1] == "RESULT: FAILED"
    report.returns["in_flight"] = 0
    assert report.ok
    report.stock_not_counted_once = ["7"]
    assert not report.ok and any(
        line.startswith("  VIOLATED soak_stock_counted_once ") for line in report.lines()
    )


@pytest.mark.django_db
@pytest.mark.parametrize("share", ["-0.1", "1.5", "nan", "some"])
def test_a_bad_share_of_returns_is_refused_before_anything_starts(share):
    with pytest.raises(CommandError, match="--returns"):
        call_command("soak", "--orders", "1", "--returns", share)
    assert not Order.objects.exists()
