"""Reserve and release stock: our own ledger, changed only under row locks.

Stock rows are locked in product-id order (after the order row, which the engine locks
first), so two orders reserving the same products can never deadlock. Once they are locked,
one UPDATE changes them all (not one per line).
"""

from django.db.models import Case, F, IntegerField, Value, When

from fulfillment.errors import OutOfStock
from fulfillment.models import Order, Reservation, Stock
from processes import clock


def inventory_reserve(*, order: Order) -> list[Reservation]:
    """Reserve every line in the order's warehouse, or raise OutOfStock and reserve nothing."""
    wanted: dict[int, int] = {}
    skus: dict[int, str] = {}
    for line in order.lines.all():
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
        skus[line.product_id] = line.sku
    stocks = {
        stock.product_id: stock
        for stock in Stock.objects.select_for_update()
        .filter(warehouse_id=order.warehouse_id, product_id__in=wanted)
        .order_by("product_id")
    }
    for product_id, quantity in wanted.items():
        stock = stocks.get(product_id)
        if stock is None or stock.available < quantity:
            have = 0 if stock is None else stock.available
            raise OutOfStock(
                f"{skus[product_id]}: {quantity} wanted, {have} available in {order.warehouse.code}"
            )
    by_stock = {stocks[product_id].pk: quantity for product_id, quantity in wanted.items()}
    _reserved_add(by_stock, sign=1)
    reservations = [
        Reservation(order=order, stock=stocks[product_id], quantity=quantity)
        for product_id, quantity in sorted(wanted.items())
    ]
    return Reservation.objects.bulk_create(reservations)


def inventory_release(*, order: Order) -> int:
    """Release the order's live reservations; releasing twice releases nothing more."""
    live = list(order.reservations.filter(released_at__isnull=True).order_by("stock__product_id"))
    if not live:
        return 0
    stock_ids = [reservation.stock_id for reservation in live]
    list(Stock.objects.select_for_update().filter(pk__in=stock_ids).order_by("product_id"))
    by_stock: dict[int, int] = {}
    for reservation in live:
        by_stock[reservation.stock_id] = by_stock.get(reservation.stock_id, 0) + reservation.quantity
    _reserved_add(by_stock, sign=-1)
    Reservation.objects.filter(pk__in=[r.pk for r in live]).update(released_at=clock.now())
    return len(live)


def _reserved_add(quantities: dict[int, int], *, sign: int) -> None:
    """Add (or with sign -1 take away) each stock row's quantity to its `reserved`, in one
    UPDATE whatever the number of lines; the caller holds the rows' locks already."""
    if not quantities:
        return
    per_row = Case(
        *[When(pk=stock_id, then=Value(sign * quantity)) for stock_id, quantity in quantities.items()],
        output_field=IntegerField(),
    )
    Stock.objects.filter(pk__in=list(quantities)).update(reserved=F("reserved") + per_row)
