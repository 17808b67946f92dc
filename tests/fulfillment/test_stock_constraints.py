"""Stock can never go negative or be over-promised: the database refuses it, and reserving
more than is available reserves nothing."""

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F

from fulfillment.errors import OutOfStock
from fulfillment.inventory import inventory_reserve
from fulfillment.models import Product, Reservation, Stock
from tests.factories import place_order

pytestmark = pytest.mark.django_db


def stock_levels() -> dict[str, tuple[int, int]]:
    return {s.product.sku: (s.on_hand, s.reserved) for s in Stock.objects.select_related("product")}


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ({"on_hand": -1}, "stock_on_hand_not_negative"),
        ({"reserved": -1}, "stock_reserved_not_negative"),
        ({"reserved": F("on_hand") + 1}, "stock_reserved_within_on_hand"),
        ({"on_hand": F("reserved") - 1}, "stock_reserved_within_on_hand"),
        ({"on_hand": 0, "reserved": 1}, "stock_reserved_within_on_hand"),
    ],
)
def test_database_refuses_impossible_stock(catalogue, change, constraint):
    """An update that would make stock negative or over-reserved fails with IntegrityError."""
    Stock.objects.filter(product=catalogue.mug).update(reserved=5)
    before = stock_levels()

    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        Stock.objects.filter(product=catalogue.mug).update(**change)

    assert stock_levels() == before


def test_reserving_everything_on_hand_is_allowed(catalogue):
    """reserved == on_hand is the limit, not past it."""
    Stock.objects.filter(product=catalogue.mug).update(reserved=F("on_hand"))

    assert catalogue.stock(catalogue.mug).available == 0


def test_reserve_beyond_stock_raises_and_reserves_nothing(catalogue):
    """One line too many: OutOfStock names the SKU, and no line is reserved, not even the others."""
    order = place_order(lines=(("MUG-001", 2), ("TEE-042", 101)))
    before = stock_levels()

    with pytest.raises(OutOfStock, match="TEE-042: 101 wanted, 100 available in MAIN"):
        inventory_reserve(order=order)

    assert stock_levels() == before
    assert Reservation.objects.count() == 0


def test_reserve_counts_what_is_already_promised(catalogue):
    """Stock reserved for other orders is not available: 100 on hand, 95 reserved, 6 wanted fails."""
    Stock.objects.filter(product=catalogue.mug).update(reserved=95)
    order = place_order(lines=(("MUG-001", 6),))
    before = stock_levels()

    with pytest.raises(OutOfStock, match="MUG-001: 6 wanted, 5 available"):
        inventory_reserve(order=order)

    assert stock_levels() == before
    assert Reservation.objects.count() == 0


def test_reserve_adds_up_repeated_lines(catalogue):
    """Two lines of one SKU are reserved together: 60 + 60 of 100 is refused."""
    order = place_order(lines=(("MUG-001", 60), ("MUG-001", 60)))

    with pytest.raises(OutOfStock, match="MUG-001: 120 wanted, 100 available"):
        inventory_reserve(order=order)
    assert Reservation.objects.count() == 0
    assert catalogue.stock(catalogue.mug).reserved == 0


def test_reserve_without_a_stock_row_raises(catalogue):
    """A product the warehouse does not stock at all is out of stock."""
    Product.objects.create(sku="PEN-007", name="Pen", price="1.00")
    order = place_order(lines=(("PEN-007", 1), ("MUG-001", 1)))

    with pytest.raises(OutOfStock, match="1 wanted, 0 available"):
        inventory_reserve(order=order)
    assert Reservation.objects.count() == 0
    assert catalogue.stock(catalogue.mug).reserved == 0


def test_out_of_stock_without_a_stock_row_names_the_sku(catalogue):
    """The error for an unstocked product names its SKU, like every other OutOfStock message."""
    Product.objects.create(sku="PEN-007", name="Pen", price="1.00")
    order = place_order(lines=(("PEN-007", 1),))

    with pytest.raises(OutOfStock, match="PEN-007: 1 wanted, 0 available in MAIN"):
        inventory_reserve(order=order)


def test_reserve_within_stock_reserves_each_line(catalogue):
    """When there is enough, each product's reserved count grows by the quantity ordered."""
    order = place_order(lines=(("MUG-001", 100), ("TEE-042", 1)))

    reservations = inventory_reserve(order=order)

    assert sorted((r.stock.product.sku, r.quantity) for r in reservations) == [
        ("MUG-001", 100),
        ("TEE-042", 1),
    ]
    assert stock_levels() == {"MUG-001": (100, 100), "TEE-042": (100, 1)}
