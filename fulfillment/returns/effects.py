"""What the return's steps record under its row lock: the label, the refund, the restock.

The calls to the carrier and the gateway are made by the steps (fulfillment.returns.steps);
these functions write what they answered, each tolerating a retry that finds it written.
"""

from django.db.models import F

from fulfillment.gateways import Label, LabelVoid, Refund
from fulfillment.models import Return, ReturnLabel, ReturnLine, ReturnRefund, ReturnRestock, Stock
from processes import clock


def return_label_record(*, ret: Return, label: Label) -> ReturnLabel:
    """Keep the label the carrier issued; a retry that finds it recorded keeps that row."""
    found = ReturnLabel.objects.filter(ret=ret, tracking_number=label.tracking_number).first()
    return found or ReturnLabel.objects.create(
        ret=ret, carrier=label.carrier, tracking_number=label.tracking_number, label_url=label.label_url
    )


def return_label_void_record(*, ret: Return, void: LabelVoid) -> int:
    """Mark the return's live label voided (the carrier voided it, or never made one)."""
    return ReturnLabel.objects.filter(ret=ret, voided_at__isnull=True).update(voided_at=clock.now())


def return_refund_record(*, ret: Return, refund: Refund | None) -> ReturnRefund:
    """Keep what was refunded; None: nothing was accepted, so nothing was refunded."""
    found = ReturnRefund.objects.filter(ret=ret).first()
    if found is not None:
        return found
    if refund is None:
        return ReturnRefund.objects.create(ret=ret, refund_id="", amount=0)
    return ReturnRefund.objects.create(ret=ret, refund_id=refund.refund_id, amount=refund.amount)


def return_restock(*, ret: Return) -> int:
    """Put the accepted units back on hand in the order's warehouse, once per line (its
    ReturnRestock row); rejected units stay out. Stock rows are locked in product order."""
    lines = list(
        ret.lines.filter(verdict=ReturnLine.Verdict.ACCEPTED, restock__isnull=True).select_related(
            "order_line"
        )
    )
    if not lines:
        return 0
    products = sorted({line.order_line.product_id for line in lines})
    stocks = {
        stock.product_id: stock
        for stock in Stock.objects.select_for_update()
        .filter(warehouse_id=ret.order.warehouse_id, product_id__in=products)
        .order_by("product_id")
    }
    for line in sorted(lines, key=lambda line: line.order_line.product_id):
        stock = stocks.get(line.order_line.product_id) or Stock.objects.create(
            product_id=line.order_line.product_id, warehouse_id=ret.order.warehouse_id
        )
        Stock.objects.filter(pk=stock.pk).update(on_hand=F("on_hand") + line.quantity)
        ReturnRestock.objects.create(line=line, stock=stock, quantity=line.quantity)
    return len(lines)
