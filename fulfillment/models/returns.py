"""Returns: the state machine a return goes through, its lines, and what each step leaves behind.

A return takes back some units of a completed order's lines. Like the order's, its guards read
the rows its steps wrote (the return label, the parcel scan, the inspection, the refund, the
restock), so no state is reached without the record of what was done.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, transition

from fulfillment.models.orders import Order, OrderLine
from processes import clock
from processes.models.process import Process, listed_by_state_index


class ReturnState(models.TextChoices):
    REQUESTED = "requested", "Requested"
    APPROVED = "approved", "Approved"
    LABEL_CREATED = "label_created", "Return label created"
    AWAITING_PARCEL = "awaiting_parcel", "Waiting for the parcel"
    PARCEL_RECEIVED = "parcel_received", "Parcel received"
    INSPECTING = "inspecting", "Being inspected"
    INSPECTED = "inspected", "Inspected"
    REFUNDED = "refunded", "Refunded"
    RESTOCKED = "restocked", "Back in stock"
    COMPLETED = "completed", "Completed"
    COMPENSATING = "compensating", "Closing"
    CANCELLED = "cancelled", "Cancelled"


R = ReturnState
# Until the parcel is at the warehouse a return may be cancelled (its label voided); after, the
# goods are ours to inspect and the return goes on to its end.
RETURN_CANCELLABLE = [R.REQUESTED, R.APPROVED, R.LABEL_CREATED, R.AWAITING_PARCEL]


class Return(Process):
    """A customer's return of some units of a completed order, run by the return workflow
    (fulfillment.returns.workflow) on the same engine as orders."""

    state = FSMField(default=R.REQUESTED, choices=R.choices, protected=True)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="returns")
    reason = models.CharField(max_length=500)
    # What the requested lines are worth at the order's prices; the refund is the accepted part.
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    # Whether the approval rule or an operator approved it, and who.
    approved_by = models.CharField(max_length=150, blank=True)

    class Meta(Process.Meta):
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="return_amount_not_negative")]
        indexes = [
            *Process.Meta.indexes,
            listed_by_state_index(),
            models.Index(fields=["order", "-created_at"], name="return_order_newest_first"),
            # The console's list (newest first) and its stuck filter and dashboard figure (one
            # range per step, as the order's order_step_age answers them).
            models.Index(fields=["-created_at", "-id"], name="return_newest_first"),
            models.Index(fields=["step", "step_started_at"], name="return_step_age"),
        ]
        permissions = [
            ("approve_return", "Can approve a return above the automatic threshold"),
            ("request_return", "Can request a return for a customer"),
            ("retry_return", "Can retry a return's current step now"),
            ("cancel_return", "Can cancel a return before its parcel arrives"),
            ("resolve_return_attention", "Can resolve a return's needs-attention"),
        ]

    # What the client reads for the return's creation in its journal (fulfillment.api.timeline).
    client_created_words = "Return requested."

    def __str__(self):
        return f"Return {self.pk}"

    def is_cancellable(self) -> bool:
        """Whether the client or an operator may still cancel it: not once the parcel arrived."""
        return self.state in RETURN_CANCELLABLE

    def accepted_amount(self) -> Decimal:
        """What the inspection accepted, at the order's prices: the refund's amount."""
        return sum((line.amount() for line in self.lines.all() if line.is_accepted()), Decimal("0"))

    # Guards, as on the order: each reads the rows a step wrote.
    def is_approved(self) -> bool:
        return bool(self.approved_by)

    def has_live_label(self) -> bool:
        return self.labels.filter(voided_at__isnull=True).exists()

    def parcel_arrived(self) -> bool:
        return self.labels.filter(voided_at__isnull=True, received_at__isnull=False).exists()

    def has_inspection(self) -> bool:
        return InspectionTask.objects.filter(ret=self).exists()

    def every_line_judged(self) -> bool:
        return not self.lines.filter(verdict=ReturnLine.Verdict.PENDING).exists()

    def refund_settled(self) -> bool:
        return ReturnRefund.objects.filter(ret=self).exists()

    def restock_done(self) -> bool:
        accepted = self.lines.filter(verdict=ReturnLine.Verdict.ACCEPTED)
        return not accepted.filter(restock__isnull=True).exists()

    def nothing_left_to_undo(self) -> bool:
        return not self.has_live_label()

    # Each transition says in `custom` what the client reads for it (fulfillment.api).
    @transition(
        field=state,
        source=R.REQUESTED,
        target=R.APPROVED,
        conditions=[is_approved],
        custom={"client_words": "Return approved."},
    )
    def approve(self):
        """The approval rule, or an operator above its threshold, accepted the request."""

    @transition(
        field=state,
        source=R.APPROVED,
        target=R.LABEL_CREATED,
        conditions=[has_live_label],
        custom={"client_words": "Return label created."},
    )
    def mark_label_created(self):
        """The carrier issued the label the customer sends the parcel with."""

    @transition(
        field=state,
        source=R.LABEL_CREATED,
        target=R.AWAITING_PARCEL,
        conditions=[has_live_label],
        custom={"client_words": "Waiting for your parcel."},
    )
    def wait_for_parcel(self):
        """The return waits for the carrier to bring the parcel, until its deadline."""

    @transition(
        field=state,
        source=R.AWAITING_PARCEL,
        target=R.PARCEL_RECEIVED,
        conditions=[parcel_arrived],
        custom={"client_words": "Parcel received at the warehouse."},
    )
    def mark_parcel_received(self):
        """The carrier or a warehouse scan says the parcel arrived."""

    @transition(
        field=state,
        source=R.PARCEL_RECEIVED,
        target=R.INSPECTING,
        conditions=[has_inspection],
        custom={"client_words": "Your items are being inspected."},
    )
    def open_inspection(self):
        """A warehouse worker's inspection task is open."""

    @transition(
        field=state,
        source=R.INSPECTING,
        target=R.INSPECTED,
        conditions=[every_line_judged],
        custom={"client_words": "Items inspected."},
    )
    def mark_inspected(self):
        """Every line was accepted or rejected, with a reason."""

    @transition(
        field=state,
        source=R.INSPECTED,
        target=R.REFUNDED,
        conditions=[refund_settled],
        custom={"client_words": "Refund sent for the accepted items."},
    )
    def mark_refunded(self):
        """The gateway refunded the accepted lines' amount (nothing, if none was accepted)."""

    @transition(
        field=state,
        source=R.REFUNDED,
        target=R.RESTOCKED,
        conditions=[restock_done],
        custom={"client_words": "Items checked back in."},
    )
    def mark_restocked(self):
        """The accepted units are back in stock, once; rejected ones are not."""

    @transition(
        field=state,
        source=R.RESTOCKED,
        target=R.COMPLETED,
        conditions=[refund_settled],
        custom={"client_words": "Confirmation sent; the return is complete."},
    )
    def complete(self):
        """The customer was told what was refunded."""

    @transition(field=state, source=RETURN_CANCELLABLE, target=R.COMPENSATING)
    def start_compensation(self):
        """The return is cancelled or timed out before its parcel arrived: void its label."""

    @transition(
        field=state,
        source=R.COMPENSATING,
        target=R.CANCELLED,
        conditions=[nothing_left_to_undo],
        custom={"client_words": "Return closed; its label was voided."},
    )
    def mark_cancelled(self):
        """The label is voided and the customer told: nothing of the return is left."""


class ReturnLine(models.Model):
    """Some units of one order line sent back, and what the inspection made of them."""

    class Verdict(models.TextChoices):
        PENDING = "pending", "Not inspected yet"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    ret = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.PROTECT, related_name="return_lines")
    quantity = models.PositiveIntegerField()
    verdict = models.CharField(max_length=16, choices=Verdict, default=Verdict.PENDING)
    reject_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="return_line_quantity_positive"),
            models.UniqueConstraint(fields=["ret", "order_line"], name="return_line_once_per_order_line"),
            models.CheckConstraint(
                condition=~Q(verdict="rejected") | ~Q(reject_reason=""), name="return_line_rejected_says_why"
            ),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.order_line.sku} ({self.verdict})"

    def amount(self) -> Decimal:
        return self.order_line.unit_price * self.quantity

    def is_accepted(self) -> bool:
        return self.verdict == self.Verdict.ACCEPTED


class ReturnLabel(models.Model):
    """The carrier's label the customer sends the parcel back with; at most one live per return.

    `received_at` is when the carrier (its signed webhook) or a warehouse scan said it arrived.
    """

    ret = models.ForeignKey(Return, on_delete=models.PROTECT, related_name="labels")
    carrier = models.CharField(max_length=32)
    tracking_number = models.CharField(max_length=64, unique=True)
    label_url = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=clock.now)
    voided_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["ret"], condition=Q(voided_at__isnull=True), name="return_one_live_label"
            )
        ]

    def __str__(self):
        return f"{self.carrier} {self.tracking_number}"


class InspectionTask(models.Model):
    """A warehouse worker's task beside picking: judge each line of an arrived return."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        DONE = "done", "Done"

    ret = models.OneToOneField(Return, on_delete=models.PROTECT, related_name="inspection")
    warehouse = models.ForeignKey(
        "fulfillment.Warehouse", on_delete=models.PROTECT, related_name="inspections"
    )
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    opened_at = models.DateTimeField(default=clock.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        indexes = [models.Index(fields=["warehouse", "status", "opened_at"], name="inspection_queue")]

    def __str__(self):
        return f"Inspection of {self.ret_id} ({self.status})"


class ReturnRefund(models.Model):
    """What the payment gateway refunded for a return: the accepted lines' amount, once.

    `refund_id` is blank when nothing was accepted, so there was nothing to refund.
    """

    ret = models.OneToOneField(Return, on_delete=models.PROTECT, related_name="refund")
    refund_id = models.CharField(max_length=64, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    refunded_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="return_refund_not_negative"),
            models.UniqueConstraint(
                fields=["refund_id"], condition=~Q(refund_id=""), name="return_refund_id_unique"
            ),
        ]

    def __str__(self):
        return f"{self.refund_id or 'nothing'} {self.amount}"


class ReturnRestock(models.Model):
    """Accepted units of one return line put back on the shelf: one row, so once."""

    line = models.OneToOneField(ReturnLine, on_delete=models.PROTECT, related_name="restock")
    stock = models.ForeignKey("fulfillment.Stock", on_delete=models.PROTECT, related_name="restocks")
    quantity = models.PositiveIntegerField()
    restocked_at = models.DateTimeField(default=clock.now)

    def __str__(self):
        return f"{self.quantity} back into {self.stock_id}"
