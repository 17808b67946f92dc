"""The steps of a return: what each does, how it is undone, how it retries.

As for the order (fulfillment.steps): `call` talks to a service outside any transaction with the
step's idempotency key, `record` writes what happened and makes the return's transition under
its row lock. The label and refund steps share the order steps' circuit policy: a carrier or
gateway outage stops returns as it stops orders.
"""

from datetime import timedelta

from django.conf import settings

from fulfillment import shipping
from fulfillment.gateways import payment_gateway, shipping_carrier
from fulfillment.models import Payment
from fulfillment.returns import effects, mail
from fulfillment.returns.inspection import INSPECT_STEP, inspection_open, inspection_record
from fulfillment.returns.parcels import AWAIT_PARCEL_STEP, return_parcel_mark_received
from fulfillment.steps import SERVICE_CIRCUIT, carrier_limit
from processes.workflow import OnExhausted, PersonTask, RetryPolicy, Step, WaitStep

RULE = "approval rule"


class ApproveReturn(WaitStep):
    """Approved at once by the rule (the request was checked against the window and the units
    shipped when made) up to RETURN_APPROVAL_THRESHOLD; above it an operator approves it, or
    refuses it (a problem reported: the return is cancelled). Nobody has after
    RETURN_APPROVAL_TIMEOUT: the return needs attention, and the operators are alerted."""

    name = "approve"
    title = "approval"
    on_timeout = OnExhausted.NEEDS_ATTENTION
    on_problem = OnExhausted.COMPENSATE
    manual_before_waiting = "the approval rule has not looked at it yet"
    # In the waiting sentence: an operator decides in the console (Approve or Refuse).
    waiting_for = "an operator to approve or refuse it (worth more than the approval rule allows)"
    client_waiting_for = "our approval of the return"

    @property
    def timeout(self):
        return timedelta(seconds=settings.RETURN_APPROVAL_TIMEOUT)

    def record(self, ret, result, ctx):
        if ret.amount <= settings.RETURN_APPROVAL_THRESHOLD:
            ret.approved_by = RULE
            ret.approve()

    def settled(self, ret):
        return bool(ret.approved_by)

    def person_task(self, ret):
        """The operator's decision, asked for since the step began; nobody claims it."""
        return PersonTask(opened_at=ret.step_started_at) if ret.step_started_at else None

    def manual_result(self, ret, entered):
        return {}

    def on_signal(self, ret, payload, ctx):
        ret.approved_by = payload.get("by") or "operator"
        ret.approve()


class CreateReturnLabel(Step):
    """The carrier's label the customer sends the parcel with; voided if the return is closed."""

    name = "create_return_label"
    title = "return label"
    retry = RetryPolicy(
        max_attempts=6, backoff_base=1.0, backoff_cap=60.0, on_exhausted=OnExhausted.COMPENSATE
    )
    attempt_timeout = 20.0
    circuit = SERVICE_CIRCUIT
    reconciled = True  # the return page's ledger cross-check compares its live labels

    @property
    def limit(self):
        return carrier_limit()

    def flow_key(self, ret):
        return shipping.carrier_account(ret.order)

    def call(self, ret, ctx):
        return shipping_carrier().create_label(
            reference=str(ret.pk),
            address=ret.order.shipping_address,
            weight_grams=sum(
                line.quantity * line.order_line.product.weight_grams for line in ret.lines.all()
            ),
            idempotency_key=ctx.idempotency_key,
            account=shipping.carrier_account(ret.order),
        )

    def record(self, ret, label, ctx):
        effects.return_label_record(ret=ret, label=label)
        ret.mark_label_created()

    def undo_call(self, ret, ctx):
        return shipping_carrier().void_label(
            label_key=ctx.forward_key,
            reference=str(ret.pk),
            idempotency_key=ctx.idempotency_key,
            account=shipping.carrier_account(ret.order),
        )

    def undo_record(self, ret, void, ctx):
        effects.return_label_void_record(ret=ret, void=void)


class AwaitParcel(WaitStep):
    """The carrier's signed webhook, or a warehouse scan, says the parcel arrived. With no
    parcel after RETURN_PARCEL_DEADLINE_DAYS the return closes itself: its label is voided and
    the customer told (this step's undo, which a cancel runs too)."""

    name = AWAIT_PARCEL_STEP
    title = "parcel"
    on_timeout = OnExhausted.COMPENSATE
    on_problem = OnExhausted.COMPENSATE
    undo_retry = RetryPolicy(max_attempts=8, backoff_base=2.0, backoff_cap=300.0)
    manual_before_waiting = "its label is not made yet"

    @property
    def timeout(self):
        return timedelta(days=settings.RETURN_PARCEL_DEADLINE_DAYS)

    @property
    def expected_duration(self):
        return self.timeout

    def record(self, ret, result, ctx):
        ret.wait_for_parcel()
        if ret.parcel_arrived():  # the carrier's event came before the return waited for it
            ret.mark_parcel_received()

    def settled(self, ret):
        return ret.parcel_arrived()

    def manual_result(self, ret, entered):
        label = ret.labels.filter(voided_at__isnull=True).first()
        return {"tracking_number": label.tracking_number if label else "", "by": "operator"}

    def on_signal(self, ret, payload, ctx):
        return_parcel_mark_received(ret=ret, tracking_number=payload["tracking_number"], by=payload["by"])
        ret.mark_parcel_received()

    def undo_call(self, ret, ctx):
        return mail.return_closed_send(ret=ret)

    def undo_record(self, ret, message_id, ctx):
        mail.return_notification_record(ret=ret, kind=mail.RETURN_CLOSED, message_id=message_id)


class InspectReturn(WaitStep):
    """A warehouse worker accepts or rejects each line, with a reason (fulfillment.returns.inspection)."""

    name = INSPECT_STEP
    title = "inspection"
    on_timeout = OnExhausted.NEEDS_ATTENTION
    on_problem = OnExhausted.NEEDS_ATTENTION
    manual_before_waiting = "its parcel has not arrived yet"

    @property
    def timeout(self):
        return timedelta(seconds=settings.RETURN_INSPECTION_TIMEOUT)

    @property
    def expected_duration(self):
        return self.timeout

    def record(self, ret, result, ctx):
        inspection_open(ret=ret)
        ret.open_inspection()

    def on_signal(self, ret, payload, ctx):
        inspection_record(ret=ret, payload=payload)
        ret.mark_inspected()


class RefundReturn(Step):
    """A partial refund of the accepted lines' amount against the order's charge, once (its
    key); nothing is asked of the gateway when no line was accepted. A refund still failing
    after its retries needs a person: money owed is never dropped silently."""

    name = "refund_return"
    title = "refund"
    retry = RetryPolicy(
        max_attempts=8,
        backoff_base=2.0,
        backoff_cap=300.0,
        on_exhausted=OnExhausted.NEEDS_ATTENTION,
        on_refusal=OnExhausted.NEEDS_ATTENTION,
    )
    attempt_timeout = 15.0
    circuit = SERVICE_CIRCUIT
    reconciled = True  # the ledger cross-checks compare the order's refunds

    def call(self, ret, ctx):
        amount = ret.accepted_amount()
        if amount <= 0:
            return None
        return payment_gateway().refund_part(
            charge_id=Payment.objects.get(order_id=ret.order_id).charge_id,
            amount=amount,
            reference=str(ret.order_id),
            idempotency_key=ctx.idempotency_key,
        )

    def record(self, ret, refund, ctx):
        effects.return_refund_record(ret=ret, refund=refund)
        ret.mark_refunded()


class RestockReturn(Step):
    """The accepted units back on hand, once; rejected ones stay out. Our own rows only."""

    name = "restock_return"
    title = "restock"
    retry = RetryPolicy(
        max_attempts=5, backoff_base=0.5, backoff_cap=10.0, on_exhausted=OnExhausted.NEEDS_ATTENTION
    )

    def record(self, ret, result, ctx):
        effects.return_restock(ret=ret)
        ret.mark_restocked()


class SendReturnConfirmation(Step):
    """The customer's email saying what was accepted and refunded."""

    name = "send_return_confirmation"
    title = "confirmation"
    retry = RetryPolicy(
        max_attempts=8, backoff_base=2.0, backoff_cap=300.0, on_exhausted=OnExhausted.NEEDS_ATTENTION
    )
    attempt_timeout = 20.0
    circuit = SERVICE_CIRCUIT

    def call(self, ret, ctx):
        return mail.return_confirmation_send(ret=ret)

    def record(self, ret, message_id, ctx):
        mail.return_notification_record(ret=ret, kind=mail.RETURN_CONFIRMATION, message_id=message_id)
        ret.complete()
