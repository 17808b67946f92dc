"""Placing an order: bad input is refused with a clear message and writes nothing; good input
creates the order, its lines, its first journal event and its wake-up."""

from decimal import Decimal

import pytest
from django_q.models import OrmQ

from fulfillment.errors import InvalidOrder
from fulfillment.models import Order, OrderLine, OrderState, Product
from fulfillment.ordering import LineRequest, order_place
from processes import clock
from processes.journal import Actor
from processes.models.journal import ActorType, EventKind, ProcessEvent
from processes.models.process import Direction, RunStatus
from processes.wakeup import RUN_PROCESS_TASK
from tests.factories import ADDRESS

pytestmark = pytest.mark.django_db


def place(*, lines=(("MUG-001", 2), ("TEE-042", 1)), address=None) -> Order:
    return order_place(
        email="ada@example.com",
        shipping_address=ADDRESS if address is None else address,
        lines=[LineRequest(sku, quantity) for sku, quantity in lines],
        payment_token="tok_ok",
        actor=Actor(ActorType.CLIENT, "test"),
    )


def assert_nothing_written():
    """No order, line, journal event or wake-up exists."""
    assert Order.objects.count() == 0
    assert OrderLine.objects.count() == 0
    assert ProcessEvent.objects.count() == 0
    assert OrmQ.objects.count() == 0


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ((("NOPE-1", 1),), "Unknown SKU 'NOPE-1'"),
        ((("MUG-001", 1), ("NOPE-2", 3)), "Unknown SKU 'NOPE-2'"),
        ((("MUG-001", 0),), "Quantity of MUG-001 must be a whole number of at least 1"),
        ((("TEE-042", -2),), "Quantity of TEE-042 must be a whole number of at least 1"),
        ((("MUG-001", 1), ("TEE-042", 0)), "Quantity of TEE-042"),
        ((("MUG-001", 1.5),), "Quantity of MUG-001 must be a whole number"),
        ((), "An order needs at least one line"),
    ],
)
def test_bad_lines_are_refused_and_change_nothing(
    catalogue, django_capture_on_commit_callbacks, lines, message
):
    """Unknown SKUs, quantities below 1 and empty orders raise InvalidOrder naming the problem."""
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(InvalidOrder, match=message),
    ):
        place(lines=lines)

    assert callbacks == []
    assert_nothing_written()


@pytest.mark.parametrize("missing", ["name", "line1", "city", "postal_code", "country"])
def test_address_missing_a_field_is_refused(catalogue, missing):
    """An address without one of its required fields is refused, naming the field."""
    address = {key: value for key, value in ADDRESS.items() if key != missing}

    with pytest.raises(InvalidOrder, match=f"shipping_address is missing {missing}"):
        place(address=address)
    assert_nothing_written()


def test_blank_address_fields_count_as_missing(catalogue):
    """Whitespace is no city; every blank required field is named."""
    address = {**ADDRESS, "city": "   ", "country": ""}

    with pytest.raises(InvalidOrder, match="shipping_address is missing city, country"):
        place(address=address)
    assert_nothing_written()


@pytest.mark.parametrize(
    ("country", "message"),
    [("XX", "not an ISO 3166-1 alpha-2 country code"), ("gb", "upper case: send GB"), (44, "not an ISO")],
)
def test_a_country_iso_3166_does_not_list_is_refused(catalogue, country, message):
    """The demo, soak and benchmark tools place orders without the API: the service checks too."""
    with pytest.raises(InvalidOrder, match=f"(?i)shipping_address country: .*{message}"):
        place(address={**ADDRESS, "country": country})
    assert_nothing_written()


def test_address_must_be_an_object(catalogue):
    """A string where an address object belongs is refused."""
    with pytest.raises(InvalidOrder, match="shipping_address must be an object"):
        place(address="12 Analytical Row, London")
    assert_nothing_written()


def test_no_warehouse_is_refused():
    """With products but no warehouse set up, the order is refused and nothing is written."""
    Product.objects.create(sku="MUG-001", name="Enamel mug", price=Decimal("12.50"))

    with pytest.raises(InvalidOrder, match="No warehouse is set up"):
        place(lines=(("MUG-001", 1),))
    assert_nothing_written()


def test_good_order_is_created_received_with_its_lines(catalogue, django_capture_on_commit_callbacks):
    """One order in state received, its lines at catalogue prices, total = sum of price * qty."""
    with clock.frozen():
        with django_capture_on_commit_callbacks(execute=True):
            order = place()
        placed_at = clock.now()

    stored = Order.objects.get()
    assert stored.pk == order.pk
    assert stored.state == OrderState.RECEIVED
    assert stored.warehouse == catalogue.warehouse
    assert [(line.sku, line.quantity, line.unit_price) for line in stored.lines.all()] == [
        ("MUG-001", 2, Decimal("12.50")),
        ("TEE-042", 1, Decimal("24.00")),
    ]
    assert (
        stored.total
        == Decimal("49.00")
        == sum(line.unit_price * line.quantity for line in stored.lines.all())
    )
    assert (stored.step, stored.direction, stored.run_status) == (
        "charge_payment",
        Direction.FORWARD,
        RunStatus.READY,
    )
    assert stored.next_run_at == placed_at
    assert stored.enqueued_at == placed_at


def test_good_order_is_journalled_once_and_woken(catalogue, django_capture_on_commit_callbacks):
    """The order gets one `created` event (to received, by the client) and one queued wake-up."""
    with django_capture_on_commit_callbacks(execute=True):
        order = place()

    (event,) = ProcessEvent.objects.filter(process_id=order.pk)
    assert (event.kind, event.transition, event.from_state, event.to_state) == (
        EventKind.TRANSITION,
        "create",
        "",
        OrderState.RECEIVED,
    )
    assert (event.actor_type, event.actor, event.reason) == (ActorType.CLIENT, "test", "order received")
    (message,) = OrmQ.objects.all()
    assert message.task["func"] == RUN_PROCESS_TASK
    assert tuple(message.task["args"]) == ("fulfillment.order", str(order.pk))
