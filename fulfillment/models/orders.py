"""Orders: the state machine an order goes through, its lines, and who may cancel it when.

The order's state is a django-fsm state machine whose guards check the rows each step wrote
(fulfillment.models.effects, fulfillment.models.picking), so impossible states (a label without
a reservation, completion without a pick) cannot be reached even by a buggy caller.
"""

from django.conf import settings
from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Upper
from django_fsm import RETURN_VALUE, FSMField, transition

from fulfillment.models.catalogue import Product, Warehouse
from fulfillment.models.effects import FraudCheck, Payment
from fulfillment.models.picking import PickTask
from fulfillment.models.search_indexes import PostgresOnlyGinIndex
from processes.models.process import Process, listed_by_state_index


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
# Until its goods are picked its shipping address may change too (fulfillment.address_change).
ADDRESS_CHANGEABLE = CANCELLABLE


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
            listed_by_state_index(),
            models.Index(fields=["-created_at", "-id"], name="order_newest_first"),
            models.Index(fields=["owner", "-created_at"], name="order_client_newest_first"),
            models.Index(fields=["step", "step_started_at"], name="order_step_age"),
            models.Index(fields=["state", "state_changed_at"], name="order_state_since"),
            models.Index(Upper("email"), name="order_email_ci"),
            # Search by part of an email or of the customer's name ("ada", "Lovelace"): trigram
            # indexes on the expressions an icontains compares. PostgreSQL only (migration 0012).
            PostgresOnlyGinIndex(OpClass(Upper("email"), name="gin_trgm_ops"), name="order_email_trgm"),
            PostgresOnlyGinIndex(
                OpClass(Upper(KeyTextTransform("name", "shipping_address")), name="gin_trgm_ops"),
                name="order_customer_name_trgm",
            ),
        ]
        permissions = [
            ("retry_order", "Can retry an order's current step now"),
            ("compensate_order", "Can compensate an order (undo its completed steps)"),
            ("cancel_order", "Can cancel an order that is not picked yet"),
            ("skip_order_step", "Can mark an order's current step done by hand"),
            ("resolve_order_attention", "Can resolve an order's needs-attention"),
            ("migrate_order_version", "Can move an in-flight order to another workflow version"),
            ("change_address", "Can change the shipping address of an order not picked yet"),
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

    def has_no_live_label(self) -> bool:
        return not self.has_live_label()

    def has_no_pick_task(self) -> bool:
        return not self.has_pick_task()

    def nothing_left_to_undo(self) -> bool:
        return not (
            self.has_payment()
            or self.has_reservation()
            or self.has_live_label()
            or self.has_pick_task()
            or self.has_fraud_clearance()
        )

    # Each transition says in `custom` what the client reads for it in the order's journal
    # (fulfillment.api.timeline); start_compensation's words depend on who cancelled.
    @transition(
        field=state,
        source=S.RECEIVED,
        target=S.FRAUD_CLEARED,
        conditions=[has_fraud_clearance],
        custom={"client_words": "Fraud check passed."},
    )
    def clear_fraud_check(self):
        """The fraud screener approved the order (workflow v2): it may be charged."""

    # v1 charges a received order; v2 only one the fraud screener cleared.
    @transition(
        field=state,
        source=[S.RECEIVED, S.FRAUD_CLEARED],
        target=S.PAYMENT_CHARGED,
        conditions=[has_payment],
        custom={"client_words": "Payment charged."},
    )
    def mark_payment_charged(self):
        """The payment gateway charged the order's total."""

    @transition(
        field=state,
        source=S.PAYMENT_CHARGED,
        target=S.INVENTORY_RESERVED,
        conditions=[has_reservation],
        custom={"client_words": "Items reserved in the warehouse."},
    )
    def mark_inventory_reserved(self):
        """Every line's quantity is reserved in the order's warehouse."""

    @transition(
        field=state,
        source=S.INVENTORY_RESERVED,
        target=S.LABEL_CREATED,
        conditions=[has_reservation, has_live_label],
        custom={"client_words": "Shipping label created."},
    )
    def mark_label_created(self):
        """The carrier issued a shipping label for the reserved goods."""

    @transition(
        field=state,
        source=S.LABEL_CREATED,
        target=S.AWAITING_PICK,
        conditions=[has_live_label, has_pick_task],
        custom={"client_words": "Waiting for the warehouse to pick the items."},
    )
    def open_pick(self):
        """A pick task waits for a warehouse worker."""

    @transition(
        field=state,
        source=S.AWAITING_PICK,
        target=S.PICKED,
        conditions=[pick_is_done],
        custom={"client_words": "Items picked."},
    )
    def mark_picked(self):
        """A worker confirmed every line was picked."""

    @transition(
        field=state,
        source=S.PICKED,
        target=S.COMPLETED,
        conditions=[pick_is_done, has_payment],
        custom={"client_words": "Confirmation sent; the order is complete."},
    )
    def complete(self):
        """The confirmation was sent: the order is fulfilled."""

    @transition(
        field=state,
        source=ADDRESS_CHANGEABLE,
        target=RETURN_VALUE(*ADDRESS_CHANGEABLE),
        custom={"client_words": "Shipping address changed."},
    )
    def change_address(self):
        """The shipping address changed (the journal's reason has the old and the new one); the
        state stays as it is, and a label already made is made again (fulfillment.address_change)."""
        return self.state

    # Redoing the label with a new address (processes.redo, fulfillment.address_change): the
    # pick task nobody took up yet is withdrawn, then the label voided, then made again.
    @transition(
        field=state,
        source=S.AWAITING_PICK,
        target=S.LABEL_CREATED,
        conditions=[has_live_label, has_no_pick_task],
        custom={"client_words": "Picking put back: the shipping label is being made again."},
    )
    def withdraw_pick(self):
        """The pick task nobody had claimed was withdrawn, to make the label again."""

    @transition(
        field=state,
        source=S.LABEL_CREATED,
        target=S.INVENTORY_RESERVED,
        conditions=[has_reservation, has_no_live_label],
        custom={"client_words": "Shipping label voided, to be made again."},
    )
    def void_label_to_redo(self):
        """The label was voided at the carrier, to be made again (a new address)."""

    @transition(field=state, source=UNDOABLE, target=S.COMPENSATING)
    def start_compensation(self):
        """The order cannot be completed: undo its completed steps in reverse."""

    @transition(
        field=state,
        source=S.COMPENSATING,
        target=S.CANCELLED,
        conditions=[nothing_left_to_undo],
        custom={"client_words": "Cancelled: every completed step was undone."},
    )
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
