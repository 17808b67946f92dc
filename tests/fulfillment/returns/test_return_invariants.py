"""check_invariants covers returns: a returned order's refunds, a return's refund amount, its
restock and its labels; each is caught when broken on purpose."""

from decimal import Decimal

from fulfillment.models import ReturnRefund, ReturnRestock
from fulfillment.proving.invariants import invariants_check
from fulfillment.returns.inspection import LineVerdict
from fulfillment.returns.requests import return_cancel
from processes import clock
from tests.conftest import ENGINE_DB
from tests.return_factories import CLIENT, completed_order, drive_return, request_return

pytestmark = ENGINE_DB


def violated() -> dict:
    return {name: ids for name, ids in invariants_check().items() if ids}


def returned_order():
    """An order with one completed return (mug accepted, tee rejected) and one cancelled."""
    order = completed_order()

    def judge(ret):
        return [LineVerdict(line.pk, line.order_line.sku == "MUG-001", "Worn") for line in ret.lines.all()]

    done = drive_return(request_return(order, ("MUG-001", 1), ("TEE-042", 1)), judge=judge)
    closed = drive_return(request_return(order, ("MUG-001", 1)), parcel=False)
    return_cancel(ret=closed, actor=CLIENT, reason="kept it")
    return order, done, drive_return(closed)


def test_every_invariant_holds_with_returns_in_the_mix(catalogue):
    with clock.frozen():
        returned_order()
    assert violated() == {}


def test_a_refund_not_matching_the_accepted_lines_is_caught(catalogue):
    with clock.frozen():
        order, done, _ = returned_order()
    ReturnRefund.objects.filter(ret=done).update(amount=Decimal("36.50"))
    assert violated() == {
        "return_refund_not_accepted_amount": [str(done.pk)],
        "completed_not_charged_once": [str(order.pk)],
    }


def test_a_restock_missing_is_caught(catalogue):
    with clock.frozen():
        _, done, _ = returned_order()
    ReturnRestock.objects.filter(line__ret=done).delete()
    assert violated() == {"return_restocked_not_once": [str(done.pk)]}


def test_a_cancelled_returns_label_left_live_is_caught(catalogue):
    with clock.frozen():
        _, _, closed = returned_order()
    closed.labels.update(voided_at=None)
    assert violated() == {"return_labels_wrong": [str(closed.pk)]}


def test_the_engines_rules_hold_returns_too(catalogue):
    """A return left unfinished with nothing due, or finished in a state that is not an end,
    breaks the same engine invariants as an order would, under the return's id; scoped to some
    orders, the check looks at their returns only."""
    from fulfillment.models import Order, Return
    from processes.models.process import RunStatus

    with clock.frozen():
        order, done, _ = returned_order()
        lost = drive_return(request_return(completed_order(), ("TEE-042", 1)), parcel=False)
    Return.objects.filter(pk=lost.pk).update(next_run_at=None)
    Return.objects.filter(pk=done.pk).update(run_status=RunStatus.WAITING, next_run_at=None)

    found = violated()
    assert found["unfinished_without_wakeup"] == sorted([str(lost.pk), str(done.pk)])
    assert found["status_contradicts_state"] == [str(done.pk)]
    scoped = invariants_check(orders=Order.objects.filter(pk=order.pk))
    assert scoped["unfinished_without_wakeup"] == [str(done.pk)]
    assert invariants_check(orders=Order.objects.none())["unfinished_without_wakeup"] == []
