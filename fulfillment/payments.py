"""Record what the payment gateway did; the calls themselves are made by the workflow steps."""

from fulfillment.gateways import Charge, Refund
from fulfillment.models import Order, Payment
from processes import clock


def payment_record_charge(*, order: Order, charge: Charge) -> Payment:
    """Under the order's row lock (the step's apply): a look and an insert, with no savepoint
    as get_or_create would take; a retry that finds its charge recorded keeps that row."""
    payment = Payment.objects.filter(order=order).first()
    if payment is None:
        payment = Payment.objects.create(
            order=order, charge_id=charge.charge_id, amount=charge.amount, currency=charge.currency
        )
    return payment


def payment_record_refund(*, order: Order, refund: Refund) -> Payment | None:
    """Mark the payment refunded; a refund of a charge we never saw is recorded too."""
    if refund.refund_id is None:
        return None
    payment = Payment.objects.filter(order=order).first()
    if payment is None:
        # The charge's answer was lost (timeout) and the refund found it: keep the books right.
        payment = Payment(
            order=order, charge_id=refund.charge_id, amount=refund.amount, currency=order.currency
        )
    payment.status = Payment.Status.REFUNDED
    payment.refund_id = refund.refund_id
    payment.refunded_at = clock.now()
    payment.save()
    return payment
