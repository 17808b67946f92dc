"""The steps of fulfilling an order: what each does, how it is undone, how it retries.

`call` talks to another service, outside any transaction, with the step's idempotency key;
`record` writes what happened and makes the order's transition under its row lock. The engine
(processes) supplies retries, leases, journal and compensation.
"""

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.conf import settings

from fulfillment import fraud, inventory, notifications, payments, shipping
from fulfillment.gateways import Assessment, Charge, Label, fraud_screener, payment_gateway, shipping_carrier
from fulfillment.picking.tasks import (
    PICK_STEP,
    pick_task_cancel,
    pick_task_mark_done,
    pick_task_open,
    pick_task_problem_resolve,
    pick_task_withdraw_refusal,
)
from fulfillment.picking.timers import PICK_TIMER_TITLES, pick_task_for_waiting, pick_timer_fire, pick_timers
from processes.effects import Effect
from processes.exceptions import ManualResultRefused
from processes.workflow import CircuitPolicy, OnExhausted, RetryPolicy, ServiceLimit, Step, WaitStep

# Every step that calls a service slows down once its service answers fewer than half of its
# calls, and stops calling it for everyone only on evidence of an outage (processes.flow): 80 %
# of its last 20 calls in a minute failed (all 20: fewer are no evidence at 30 % noise), or its
# last 10 in a row, for at least 5 orders. It then waits CIRCUIT_COOLDOWN seconds (30) before
# orders probe it one at a time: the first answer ends the outage; two service failures in a
# row double the wait, up to 5 minutes.
SERVICE_CIRCUIT = CircuitPolicy(
    window_seconds=60,
    window_attempts=20,
    min_calls=10,
    degraded_share=0.2,
    multiplier=2.0,
    min_processes=5,
    stop_share=0.8,
    stop_run=10,
    probes=2,
    cooldown=lambda: settings.CIRCUIT_COOLDOWN,
    cooldown_cap=lambda: settings.CIRCUIT_COOLDOWN_CAP,
    release_per_second=5,
)


def carrier_limit() -> ServiceLimit | None:
    """The carrier's published limit per account, from the settings (CARRIER_RATE_LIMIT calls
    per second, CARRIER_CONCURRENCY_LIMIT at once), or None when neither is set."""
    rate, at_once = settings.CARRIER_RATE_LIMIT, settings.CARRIER_CONCURRENCY_LIMIT
    if not rate and not at_once:
        return None
    calls = max(1, int(rate)) if rate else None
    return ServiceLimit(
        "carrier", calls=calls, per_seconds=calls / rate if rate else 1.0, concurrency=at_once or None
    )


class ScreenForFraud(Step):
    """Workflow v2: ask the fraud screener before charging; a refusal cancels the order uncharged.

    Undone by telling the screener the approved order was cancelled after all.
    """

    name = "fraud_check"
    service = "the fraud screener"
    retry = RetryPolicy(
        max_attempts=5, backoff_base=1.0, backoff_cap=30.0, on_exhausted=OnExhausted.COMPENSATE
    )
    attempt_timeout = 10.0
    expected_duration = timedelta(minutes=2)
    circuit = SERVICE_CIRCUIT

    def call(self, order, ctx):
        return fraud_screener().assess(
            reference=str(order.pk),
            email=order.email,
            amount=order.total,
            country=str(order.shipping_address.get("country", "")),
            token=order.payment_token,
            idempotency_key=ctx.idempotency_key,
        )

    # An operator clears the order by hand: after reviewing it themselves (nothing entered), or
    # with an assessment made on the screener's own site.
    manual_fields = {
        "assessment_id": lambda: forms.CharField(
            max_length=64,
            required=False,
            help_text="If you screened the order on the screener's own site, its assessment id; "
            "leave empty if you reviewed the order yourself.",
        ),
        "score": lambda: forms.IntegerField(
            required=False, min_value=0, max_value=100, help_text="That assessment's risk score (0–100)."
        ),
    }

    def manual_result(self, order, entered):
        """The screener's assessment as entered, or the operator's own review: `manual:<order>`
        with score 0 (no screener scored it); the journal names the operator and the reason."""
        assessment_id, score = entered.get("assessment_id") or "", entered.get("score")
        if not assessment_id and score is None:
            return Assessment(assessment_id=f"manual:{order.pk}", score=0)
        if not assessment_id or score is None:
            raise ManualResultRefused(
                "Enter both the screener's assessment id and its score, or neither if you reviewed"
                " the order yourself."
            )
        if not 0 <= int(score) <= 100:
            raise ManualResultRefused(f"A risk score is between 0 and 100, not {score}.")
        return Assessment(assessment_id=assessment_id, score=int(score))

    def record(self, order, assessment, ctx):
        fraud.fraud_record_assessment(order=order, assessment=assessment)
        order.clear_fraud_check()

    def undo_call(self, order, ctx):
        return fraud_screener().cancel(
            assessment_key=ctx.forward_key, reference=str(order.pk), idempotency_key=ctx.idempotency_key
        )

    def undo_record(self, order, cancel, ctx):
        fraud.fraud_record_cancel(order=order, cancel=cancel)


class ChargePayment(Step):
    name = "charge_payment"
    service = "the payment gateway"
    retry = RetryPolicy(
        max_attempts=6, backoff_base=1.0, backoff_cap=30.0, on_exhausted=OnExhausted.COMPENSATE
    )
    attempt_timeout = 15.0
    expected_duration = timedelta(minutes=2)
    circuit = SERVICE_CIRCUIT
    reconciled = True  # the ledger cross-check (monitoring) compares its charges and refunds

    def call(self, order, ctx):
        return payment_gateway().charge(
            amount=order.total,
            currency=order.currency,
            token=order.payment_token,
            reference=str(order.pk),
            idempotency_key=ctx.idempotency_key,
        )

    manual_fields = {
        "charge_id": lambda: forms.CharField(
            max_length=64, help_text="The charge id from the payment provider's dashboard."
        ),
        "amount": lambda: forms.DecimalField(
            required=False, max_digits=12, decimal_places=2, help_text="Leave empty for the order's total."
        ),
    }
    # Every charge id is one order's own: entered for one order at a time.
    manual_one_at_a_time = True

    def manual_result(self, order, entered):
        if not entered.get("charge_id"):
            raise ManualResultRefused("Enter the charge id from the payment provider's dashboard.")
        amount = Decimal(entered.get("amount") or order.total)
        return Charge(charge_id=entered["charge_id"], amount=amount, currency=order.currency)

    def record(self, order, charge, ctx):
        payments.payment_record_charge(order=order, charge=charge)
        order.mark_payment_charged()

    def undo_call(self, order, ctx):
        return payment_gateway().refund(
            charge_key=ctx.forward_key, reference=str(order.pk), idempotency_key=ctx.idempotency_key
        )

    def undo_record(self, order, refund, ctx):
        payments.payment_record_refund(order=order, refund=refund)

    def undo_preview(self, order):
        """The charge we recorded comes back in full."""
        payment = getattr(order, "payment", None)
        if payment is None or payment.status != payment.Status.CHARGED:
            return []
        return [Effect("refund", payment.currency, payment.amount)]


class ReserveInventory(Step):
    name = "reserve_inventory"
    retry = RetryPolicy(
        max_attempts=5, backoff_base=0.5, backoff_cap=10.0, on_exhausted=OnExhausted.COMPENSATE
    )
    expected_duration = timedelta(minutes=1)

    def record(self, order, result, ctx):
        inventory.inventory_reserve(order=order)
        order.mark_inventory_reserved()

    def undo_record(self, order, result, ctx):
        inventory.inventory_release(order=order)

    def undo_preview(self, order):
        """Every live reservation goes back to stock, as units per SKU."""
        live = [r for r in order.reservations.all() if r.released_at is None]
        return [Effect("units released", r.stock.product.sku, r.quantity) for r in live]


class CreateLabel(Step):
    """Ask the carrier for a shipping label to the order's address.

    An address the carrier refuses is the order's own data: a person corrects it and the step
    runs again (fulfillment.address_change), rather than the order being cancelled.
    """

    name = "create_label"
    service = "the carrier"
    retry = RetryPolicy(
        max_attempts=6,
        backoff_base=1.0,
        backoff_cap=60.0,
        on_exhausted=OnExhausted.COMPENSATE,
        on_refusal=OnExhausted.NEEDS_ATTENTION,
    )
    attempt_timeout = 20.0
    expected_duration = timedelta(minutes=5)
    circuit = SERVICE_CIRCUIT
    reconciled = True  # the ledger cross-check (monitoring) compares its live labels
    # A new shipping address redoes the label (fulfillment.address_change): voided, then back.
    undone_transition = "void_label_to_redo"

    @property
    def limit(self):
        return carrier_limit()

    def flow_key(self, order):
        """Each carrier account has its own health, circuit and limits."""
        return shipping.carrier_account(order)

    def call(self, order, ctx):
        return shipping_carrier().create_label(
            reference=str(order.pk),
            address=order.shipping_address,
            weight_grams=shipping.order_weight_grams(order),
            idempotency_key=ctx.idempotency_key,
            account=shipping.carrier_account(order),
        )

    manual_fields = {
        "carrier": lambda: forms.CharField(max_length=32, initial="SIMPOST"),
        "tracking_number": lambda: forms.CharField(max_length=64),
        "label_url": lambda: forms.CharField(
            max_length=300, required=False, help_text="Where the label can be printed, if known."
        ),
    }
    # Every tracking number is one label's own: entered for one order at a time.
    manual_one_at_a_time = True

    def manual_result(self, order, entered):
        carrier, tracking = entered.get("carrier"), entered.get("tracking_number")
        if not carrier or not tracking:
            raise ManualResultRefused("Enter the carrier and the tracking number of the label you made.")
        url = entered.get("label_url") or f"manual://{carrier}/{tracking}"
        return Label(carrier=carrier, tracking_number=tracking, label_url=url)

    def record(self, order, label, ctx):
        shipping.shipment_record_label(order=order, label=label)
        order.mark_label_created()

    def undo_call(self, order, ctx):
        return shipping_carrier().void_label(
            label_key=ctx.forward_key,
            reference=str(order.pk),
            idempotency_key=ctx.idempotency_key,
            account=shipping.carrier_account(order),
        )

    def undo_record(self, order, void, ctx):
        shipping.shipment_record_void(order=order, void=void)

    def undo_preview(self, order):
        """Every live label is voided at its carrier."""
        return [Effect("label voided", s.carrier, 1) for s in order.shipments.all() if s.voided_at is None]


class WaitForPick(WaitStep):
    """A warehouse worker claims the pick task and confirms it (fulfillment.picking.tasks).

    Before the final deadline (`timeout`: PICK_TIMEOUT, then needs-attention, never a silent
    cancel) the engine fires the task's timers: a warning, an escalation when nobody claimed it,
    and the release of a claim held too long (fulfillment.picking.timers names them all). A
    problem reported by the worker goes to an operator too, and holds the task until they
    decide: resolving the attention opens it to pickers again (a missing item may well be
    found elsewhere), picking by hand or cancelling closes it.
    """

    name = PICK_STEP
    task_name = "pick task"
    person = "a worker"
    on_timeout = OnExhausted.NEEDS_ATTENTION
    on_problem = OnExhausted.NEEDS_ATTENTION
    manual_before_waiting = "its pick task is not open yet"
    waiting_for = "a warehouse worker to pick it"
    client_waiting_for = "the warehouse to pick the order"
    timer_titles = PICK_TIMER_TITLES
    # The label before it may be redone while nobody has taken up the pick task.
    undone_transition = "withdraw_pick"

    @property
    def timeout(self):
        return timedelta(seconds=settings.PICK_TIMEOUT)

    @property
    def expected_duration(self):
        return self.timeout

    def manual_result(self, order, entered):
        return {"worker_id": None}  # picked, by nobody the system knows

    def record(self, order, result, ctx):
        pick_task_open(order=order, due_in=self.timeout)
        order.open_pick()

    def on_signal(self, order, payload, ctx):
        pick_task_mark_done(order=order, worker_id=payload.get("worker_id"))
        order.mark_picked()

    def timers(self, order):
        return pick_timers(order=order)

    def person_task(self, order):
        return pick_task_for_waiting(order=order)

    def on_timer(self, order, name, ctx):
        pick_timer_fire(order=order, name=name)

    def on_resolved(self, order, ctx):
        pick_task_problem_resolve(order=order)

    def withdraw_refusal(self, order):
        return pick_task_withdraw_refusal(order=order)

    def undo_record(self, order, result, ctx):
        pick_task_cancel(order=order)

    def undo_preview(self, order):
        """An open pick task is cancelled: nobody picks the order."""
        task = getattr(order, "pick_task", None)
        if task is None or task.status not in task.OPEN_STATUSES:
            return []
        return [Effect("pick task cancelled", order.warehouse.code, 1)]


class SendConfirmation(Step):
    name = "send_confirmation"
    service = "the mail service"
    # A confirmation that cannot be sent is no reason to refund a picked order: ask a person.
    retry = RetryPolicy(
        max_attempts=8, backoff_base=2.0, backoff_cap=300.0, on_exhausted=OnExhausted.NEEDS_ATTENTION
    )
    attempt_timeout = 20.0
    expected_duration = timedelta(minutes=5)
    circuit = SERVICE_CIRCUIT

    def call(self, order, ctx):
        return notifications.confirmation_send(order=order)

    manual_fields = {
        "message_id": lambda: forms.CharField(
            max_length=200, required=False, help_text="The Message-ID of the email you sent, if known."
        ),
    }

    def manual_result(self, order, entered):
        return entered.get("message_id") or f"<order-{order.pk}.confirmation.manual@fulfillment.localhost>"

    def record(self, order, message_id, ctx):
        notifications.confirmation_record(order=order, message_id=message_id)
        order.complete()

    def not_done_preview(self, order):
        return [Effect("mail not sent", "confirmation", 1)]
