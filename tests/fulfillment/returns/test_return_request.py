"""A return request that cannot be made is refused with a message saying why, creating nothing:
a line not in the order, more units than shipped and not yet returned, an order not completed,
a closed window."""

from datetime import timedelta

import pytest

from fulfillment.errors import InvalidReturn, ReturnNotAllowed
from fulfillment.models import Return, ReturnLine
from fulfillment.returns.requests import ReturnLineRequest, return_request
from processes import clock
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order
from tests.return_factories import CLIENT, completed_order, drive_return, request_return

pytestmark = ENGINE_DB


@pytest.fixture
def order(catalogue):
    with clock.frozen():
        yield completed_order()


def mug(order):
    return order.lines.get(sku="MUG-001")


def test_a_line_of_another_order_is_refused(order, catalogue):
    other = completed_order(email="bob@example.com")
    with pytest.raises(InvalidReturn, match=r"is not a line of this order"):
        return_request(
            order=order, lines=[ReturnLineRequest(mug(other).pk, 1)], reason="broken", actor=CLIENT
        )
    assert not Return.objects.exists()


def test_more_units_than_shipped_are_refused(order):
    with pytest.raises(InvalidReturn, match=r"3 to return, but only 2 of the 2 shipped"):
        return_request(order=order, lines=[ReturnLineRequest(mug(order).pk, 3)], reason="x", actor=CLIENT)
    assert not Return.objects.exists()


def test_units_already_in_a_return_count_against_the_next(order):
    first = request_return(order, ("MUG-001", 2))
    with pytest.raises(InvalidReturn, match=r"only 0 of the 2 shipped are not already returned"):
        request_return(order, ("MUG-001", 1))
    assert list(Return.objects.values_list("pk", flat=True)) == [first.pk]


def test_units_of_a_cancelled_return_may_be_returned_again(order):
    from fulfillment.returns.requests import return_cancel

    first = drive_return(request_return(order, ("MUG-001", 2)), parcel=False)
    return_cancel(ret=first, actor=CLIENT, reason="later")
    drive_return(first)
    again = request_return(order, ("MUG-001", 2))
    assert again.amount == mug(order).unit_price * 2


def test_an_order_not_completed_is_refused(catalogue):
    with clock.frozen():
        order = drive(place_order(), pick=False)
    with pytest.raises(ReturnNotAllowed, match=r"is awaiting pick: only a completed order can be returned"):
        return_request(order=order, lines=[ReturnLineRequest(mug(order).pk, 1)], reason="x", actor=CLIENT)
    assert not Return.objects.exists()


def test_after_the_window_the_order_is_refused(order, settings):
    settings.RETURN_WINDOW_DAYS = 30
    with (
        clock.frozen(order.state_changed_at + timedelta(days=30, seconds=1)),
        pytest.raises(
            ReturnNotAllowed, match=r"could be returned until .* \(30 days after it was completed\)"
        ),
    ):
        request_return(order, ("MUG-001", 1))
    assert not Return.objects.exists()


@pytest.mark.parametrize(
    ("lines", "reason", "message"),
    [
        ([], "broken", "at least one line"),
        ([(None, 1)], "broken", "is not a line of this order"),
        (["mug", 0], "broken", "whole number of at least 1"),
        (["mug", True], "broken", "whole number of at least 1"),
        (["mug", 1], "  ", "Say why"),
    ],
)
def test_malformed_requests_are_refused(order, lines, reason, message):
    if lines and lines[0] == "mug":
        lines = [(mug(order).pk, lines[1])]
    wanted = [ReturnLineRequest(line_id, quantity) for line_id, quantity in lines]
    with pytest.raises(InvalidReturn, match=message):
        return_request(order=order, lines=wanted, reason=reason, actor=CLIENT)
    assert not ReturnLine.objects.exists()


def test_a_line_listed_twice_is_refused(order):
    line = mug(order).pk
    with pytest.raises(InvalidReturn, match="listed twice"):
        return_request(
            order=order,
            lines=[ReturnLineRequest(line, 1), ReturnLineRequest(line, 1)],
            reason="x",
            actor=CLIENT,
        )
