"""Reserve and release stock: our own ledger, changed only under row locks.

Stock rows are locked in product-id order (after the order row, which the engine locks
first), so two orders reserving the same products can never deadlock.
"""

from django.db.models import F

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
    reservations = []
    for product_id, quantity in sorted(wanted.items()):
        Stock.objects.filter(pk=stocks[product_id].pk).update(reserved=F("reserved") + quantity)
        reservations.append(Reservation(order=order, stock=stocks[product_id], quantity=quantity))
    return Reservation.objects.bulk_create(reservations)


def inventory_release(*, order: Order) -> int:
    """Release the order's live reservations; releasing twice releases nothing more."""
    live = list(order.reservations.filter(released_at__isnull=True).order_by("stock__product_id"))
    if not live:
        return 0
    stock_ids = [reservation.stock_id for reservation in live]
    list(Stock.objects.select_for_update().filter(pk__in=stock_ids).order_by("product_id"))
    now = clock.now()
    for reservation in live:
        Stock.objects.filter(pk=reservation.stock_id).update(reserved=F("reserved") - reservation.quantity)
    Reservation.objects.filter(pk__in=[r.pk for r in live]).update(released_at=now)
    return len(live)
