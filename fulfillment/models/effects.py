"""What the steps of an order leave behind: the fraud screener's approval, the charge, the
stock reservations, the shipping labels and the emails sent.

The order's transitions check these rows (fulfillment.models.orders), so a state is never
reached without the record of what the step did; unique constraints keep one charge per charge
id, one live label per order and one email per Message-ID.
"""

from django.db import models
from django.db.models import Q

from fulfillment.models.catalogue import Stock
from processes import clock


class FraudCheck(models.Model):
    """The fraud screener's approval of an order (workflow v2), until the order is cancelled.

    Cancelling tells the screener the approved order was not fulfilled after all, as screeners
    ask (their models learn from it); `cancelled_at` records that it was told.
    """

    order = models.OneToOneField("fulfillment.Order", on_delete=models.PROTECT, related_name="fraud_check")
    assessment_id = models.CharField(max_length=64, unique=True)
    score = models.PositiveSmallIntegerField(help_text="Risk score 0–100 (higher is riskier).")
    checked_at = models.DateTimeField(default=clock.now)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.assessment_id} score {self.score}{' (cancelled)' if self.cancelled_at else ''}"


class Payment(models.Model):
    """What we know the payment gateway did for an order."""

    class Status(models.TextChoices):
        CHARGED = "charged", "Charged"
        REFUNDED = "refunded", "Refunded"

    order = models.OneToOneField("fulfillment.Order", on_delete=models.PROTECT, related_name="payment")
    charge_id = models.CharField(max_length=64, unique=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=16, choices=Status, default=Status.CHARGED)
    refund_id = models.CharField(max_length=64, blank=True)
    charged_at = models.DateTimeField(default=clock.now)
    refunded_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.charge_id} {self.amount} {self.currency} ({self.status})"


class Reservation(models.Model):
    """Stock promised to an order; live until released."""

    order = models.ForeignKey("fulfillment.Order", on_delete=models.PROTECT, related_name="reservations")
    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=clock.now)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "stock"],
                condition=Q(released_at__isnull=True),
                name="reservation_one_live_per_stock",
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_positive"),
        ]

    def __str__(self):
        return f"{self.quantity} of {self.stock_id} for {self.order_id}"


class Shipment(models.Model):
    """A shipping label the carrier issued; at most one live (not voided) per order."""

    order = models.ForeignKey("fulfillment.Order", on_delete=models.PROTECT, related_name="shipments")
    carrier = models.CharField(max_length=32)
    tracking_number = models.CharField(max_length=64, unique=True)
    label_url = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=clock.now)
    voided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order"], condition=Q(voided_at__isnull=True), name="shipment_one_live_label"
            )
        ]

    def __str__(self):
        return f"{self.carrier} {self.tracking_number}"


class Notification(models.Model):
    """An email we sent about an order; the Message-ID is deterministic, so at most one each."""

    order = models.ForeignKey("fulfillment.Order", on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=32)
    message_id = models.CharField(max_length=200, unique=True)
    sent_at = models.DateTimeField(default=clock.now)

    def __str__(self):
        return f"{self.kind} {self.message_id}"
