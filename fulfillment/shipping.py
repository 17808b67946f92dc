"""Record the carrier's labels; at most one live label per order (a database constraint)."""

from fulfillment.gateways import Label, LabelVoid
from fulfillment.models import Order, Shipment
from processes import clock


def shipment_record_label(*, order: Order, label: Label) -> Shipment:
    """Under the order's row lock, like payments.payment_record_charge. A second live label for
    the order breaks its constraint: the apply fails rather than losing track of a label."""
    shipment = Shipment.objects.filter(tracking_number=label.tracking_number).first()
    if shipment is None:
        shipment = Shipment.objects.create(
            order=order,
            tracking_number=label.tracking_number,
            carrier=label.carrier,
            label_url=label.label_url,
        )
    return shipment


def shipment_record_void(*, order: Order, void: LabelVoid) -> int:
    if void.tracking_number is None:
        return 0
    return Shipment.objects.filter(
        order=order, tracking_number=void.tracking_number, voided_at__isnull=True
    ).update(voided_at=clock.now())


def order_weight_grams(order: Order) -> int:
    return sum(line.quantity * line.product.weight_grams for line in order.lines.select_related("product"))


def carrier_account(order: Order) -> str:
    """The carrier account the order's warehouse ships with ('' for the shop's one account);
    the warehouse is read once per loaded order (the label step asks at its claim and its call)."""
    return order.warehouse.carrier_account
