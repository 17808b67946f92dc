"""The order domain: catalogue, stock, orders and what each fulfilment step leaves behind.

The order's state is a django-fsm state machine whose guards check these rows, so impossible
states (a label without a reservation, completion without a pick) cannot be reached even by a
buggy caller. The database keeps the rest honest with check and unique constraints.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django_fsm import FSMField, transition

from processes import clock
from processes.models.process import Process


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    weight_grams = models.PositiveIntegerField(default=500)

    class Meta:
        ordering = ["sku"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative")]

    def __str__(self):
        return f"{self.sku} {self.name}"


class Warehouse(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    # The carrier account this warehouse ships with; blank: the shop's one account. The label
    # step keeps its flow control per account, so one broken account holds only its orders.
    carrier_account = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name


class Stock(models.Model):
    """How many of a product a warehouse holds, and how many of those are promised to orders."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    # Where a picker finds it, e.g. "A-03-2" (aisle, shelf, level); shown on the pick pages.
    bin_location = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name_plural = "stock"
        constraints = [
            models.UniqueConstraint(
                fields=["product", "warehouse"], name="stock_one_row_per_product_warehouse"
            ),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"
            ),
        ]

    def __str__(self):
        return f"{self.product.sku} @ {self.warehouse.code}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class OrderState(models.TextChoices):
    RECEIVED = "received", "Received"
    FRAUD_CLEARED = "fraud_cleared", "Fraud check passed"  # workflow v2 only
    PAYMENT_CHARGED = "payment_charged", "Payment charged"
    INVENTORY_RESERVED = "inventory_reserved", "Inventory reserved"
    LABEL_CREATED = "label_created", "Label created"
    AWAITING_PICK = "awaiting_pick", "Awaiting pick"
    PICKED = "picked", "Picked"
    COMPLETED = "completed", "Completed"
    COMPENSATING = "compensating", "Compensating"
    CANCELLED = "cancelled", "Cancelled"


S = OrderState
UNDOABLE = [
    S.RECEIVED,
    S.FRAUD_CLEARED,
    S.PAYMENT_CHARGED,
    S.INVENTORY_RESERVED,
    S.LABEL_CREATED,
    S.AWAITING_PICK,
    S.PICKED,
]
# Until its goods are picked an order may be cancelled, by its client (the API) or by an
# operator (the admin): one rule for both. Later only an operator's compensation undoes it.
CANCELLABLE = [state for state in UNDOABLE if state != S.PICKED]


class Order(Process):
    """A customer's order, fulfilled step by step by the order workflow (fulfillment.workflow)."""

    state = FSMField(default=S.RECEIVED, choices=S.choices, protected=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    email = models.EmailField()
    shipping_address = models.JSONField()
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="orders")
    payment_token = models.CharField(max_length=64)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3, default="EUR")

    class Meta(Process.Meta):
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(condition=Q(total__gte=0), name="order_total_not_negative")]
        # The operator console's list, filters and dashboard (fulfillment.monitoring).
        indexes = [
            *Process.Meta.indexes,
            models.Index(fields=["-created_at", "-id"], name="order_newest_first"),
            models.Index(fields=["owner", "-created_at"], name="order_client_newest_first"),
            models.Index(fields=["step", "step_started_at"], name="order_step_age"),
            models.Index(fields=["state", "state_changed_at"], name="order_state_since"),
            models.Index(Upper("email"), name="order_email_ci"),
        ]
        permissions = [
            ("retry_order", "Can retry an order's current step now"),
            ("compensate_order", "Can compensate an order (undo its completed steps)"),
            ("cancel_order", "Can cancel an order that is not picked yet"),
            ("skip_order_step", "Can mark an order's current step done by hand"),
            ("resolve_order_attention", "Can resolve an order's needs-attention"),
            ("migrate_order_version", "Can move an in-flight order to another workflow version"),
        ]

    def __str__(self):
        return f"Order {self.pk}"

    def is_cancellable(self) -> bool:
        """Whether the order may still be cancelled at its state, by its client or an operator."""
        return self.state in CANCELLABLE

    # Guards: each reads the rows the step wrote, so a transition proves its precondition.
    def has_fraud_clearance(self) -> bool:
        return FraudCheck.objects.filter(order=self, cancelled_at__isnull=True).exists()

    def has_payment(self) -> bool:
        return Payment.objects.filter(order=self, status=Payment.Status.CHARGED).exists()

    def has_reservation(self) -> bool:
        return self.reservations.filter(released_at__isnull=True).exists()

    def has_live_label(self) -> bool:
        return self.shipments.filter(voided_at__isnull=True).exists()

    def has_pick_task(self) -> bool:
        return PickTask.objects.filter(order=self, status__in=PickTask.OPEN_STATUSES).exists()

    def pick_is_done(self) -> bool:
        return PickTask.objects.filter(order=self, status=PickTask.Status.DONE).exists()

    def nothing_left_to_undo(self) -> bool:
        return not (
            self.has_payment()
            or self.has_reservation()
            or self.has_live_label()
            or self.has_pick_task()
            or self.has_fraud_clearance()
        )

    @transition(field=state, source=S.RECEIVED, target=S.FRAUD_CLEARED, conditions=[has_fraud_clearance])
    def clear_fraud_check(self):
        """The fraud screener approved the order (workflow v2): it may be charged."""

    # v1 charges a received order; v2 only one the fraud screener cleared.
    @transition(
        field=state, source=[S.RECEIVED, S.FRAUD_CLEARED], target=S.PAYMENT_CHARGED, conditions=[has_payment]
    )
    def mark_payment_charged(self):
        """The payment gateway charged the order's total."""

    @transition(
        field=state, source=S.PAYMENT_CHARGED, target=S.INVENTORY_RESERVED, conditions=[has_reservation]
    )
    def mark_inventory_reserved(self):
        """Every line's quantity is reserved in the order's warehouse."""

    @transition(
        field=state,
        source=S.INVENTORY_RESERVED,
        target=S.LABEL_CREATED,
        conditions=[has_reservation, has_live_label],
    )
    def mark_label_created(self):
        """The carrier issued a shipping label for the reserved goods."""

    @transition(
        field=state,
        source=S.LABEL_CREATED,
        target=S.AWAITING_PICK,
        conditions=[has_live_label, has_pick_task],
    )
    def open_pick(self):
        """A pick task waits for a warehouse worker."""

    @transition(field=state, source=S.AWAITING_PICK, target=S.PICKED, conditions=[pick_is_done])
    def mark_picked(self):
        """A worker confirmed every line was picked."""

    @transition(field=state, source=S.PICKED, target=S.COMPLETED, conditions=[pick_is_done, has_payment])
    def complete(self):
        """The confirmation was sent: the order is fulfilled."""

    @transition(field=state, source=UNDOABLE, target=S.COMPENSATING)
    def start_compensation(self):
        """The order cannot be completed: undo its completed steps in reverse."""

    @transition(field=state, source=S.COMPENSATING, target=S.CANCELLED, conditions=[nothing_left_to_undo])
    def mark_cancelled(self):
        """Every effect was undone: refunded, stock released, label voided."""


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT)
    sku = models.CharField(max_length=64)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="order_line_quantity_positive")
        ]

    def __str__(self):
        return f"{self.quantity} × {self.sku}"


class FraudCheck(models.Model):
    """The fraud screener's approval of an order (workflow v2), until the order is cancelled.

    Cancelling tells the screener the approved order was not fulfilled after all, as screeners
    ask (their models learn from it); `cancelled_at` records that it was told.
    """

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="fraud_check")
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

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="payment")
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

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="reservations")
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

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="shipments")
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


class PickProblem(models.TextChoices):
    """What a worker can report when a pick cannot be done."""

    MISSING = "missing", "Item missing"
    DAMAGED = "damaged", "Item damaged"
    WRONG_LOCATION = "wrong_location", "Not at its bin location"


class PickTask(models.Model):
    """The human step: a warehouse worker claims the task, picks the order's lines, confirms.

    Open tasks can be claimed by one worker at a time (status CLAIMED, `assignee`); only the
    holder confirms or releases. Changed only by the services in fulfillment.picking, under
    the order's row lock.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLAIMED = "claimed", "Claimed"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.OPEN, Status.CLAIMED)

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="pick_task")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="pick_tasks")
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=clock.now)
    due_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # When each human-scale timer fired (fulfillment.warehouse.timers): set once, never again.
    warned_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # The last problem a worker reported (the order's journal keeps every one).
    problem = models.CharField(max_length=16, choices=PickProblem, blank=True)
    problem_note = models.TextField(blank=True)
    problem_reported_at = models.DateTimeField(null=True, blank=True)
    problem_reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(
                fields=["warehouse", "due_at"],
                condition=Q(status__in=["open", "claimed"]),
                name="picktask_open_by_due",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="claimed") | Q(assignee__isnull=False, claimed_at__isnull=False),
                name="picktask_claim_has_holder",
            )
        ]

    def __str__(self):
        return f"Pick {self.order_id} ({self.status})"

    def is_held_by(self, user) -> bool:
        return self.status == self.Status.CLAIMED and self.assignee_id == user.pk


class WarehouseAssignment(models.Model):
    """A warehouse worker may see and pick the tasks of the warehouses they are assigned to."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="warehouse_assignments"
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="assignments")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "warehouse"], name="warehouse_assignment_once")
        ]

    def __str__(self):
        return f"{self.user} @ {self.warehouse.code}"


class PickNotice(models.Model):
    """Something a worker must be told on their next visit (a claim that was taken back)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pick_notices")
    pick_task = models.ForeignKey(PickTask, on_delete=models.CASCADE, related_name="notices")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=clock.now)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["user", "created_at"], condition=Q(seen_at__isnull=True), name="picknotice_unseen"
            )
        ]

    def __str__(self):
        return f"To {self.user}: {self.text}"


class Notification(models.Model):
    """An email we sent about an order; the Message-ID is deterministic, so at most one each."""

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="notifications")
    kind = models.CharField(max_length=32)
    message_id = models.CharField(max_length=200, unique=True)
    sent_at = models.DateTimeField(default=clock.now)

    def __str__(self):
        return f"{self.kind} {self.message_id}"
