"""Each invariant holds for healthy orders and catches one row broken on purpose.

The orders are driven in-process to every resting place (completed, cancelled after a refund,
cancelled by a declined card, waiting for a pick) plus one just placed; then a single row is
broken with QuerySet.update() or a direct write to a ledger, the way a bug or a double effect
would leave it, and the invariant must name the order (or the stock row). The returns' mail
is checked the same way, on one completed and one cancelled return.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.mail import EmailMessage
from django.db import connection, transaction
from django.db.models import F

from fulfillment.models import Order, OrderState, Payment, Reservation, Shipment
from fulfillment.proving import invariants, return_invariants
from fulfillment.returns import mail as return_mail
from fulfillment.returns.requests import return_cancel
from fulfillment.simulators.carrier import CarrierSimulator
from fulfillment.simulators.models import LabelRecord, RefundRecord, SentMail
from fulfillment.simulators.payment import PaymentGatewaySimulator
from processes import clock
from processes.models.journal import AttemptOutcome, EventKind, ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order
from tests.return_factories import CLIENT, completed_order, drive_return, request_return

pytestmark = ENGINE_DB


class Orders:
    """One order in each resting place, and one just placed."""

    def __init__(self, catalogue):
        self.catalogue = catalogue
        with clock.frozen():
            self.completed = drive(place_order())
            self.refunded = drive(place_order(lines=[("MUG-001", 500)]))  # charged, out of stock
            self.declined = drive(place_order(token="tok_declined"))
            self.waiting = drive(place_order(), pick=False)
        self.fresh = place_order()

    def ids(self, *orders) -> list[str]:
        return sorted(str(order.pk) for order in orders)


@pytest.fixture
def orders(catalogue):
    made = Orders(catalogue)
    assert (made.completed.state, made.refunded.state, made.declined.state) == (
        OrderState.COMPLETED,
        OrderState.CANCELLED,
        OrderState.CANCELLED,
    )
    assert made.waiting.run_status == RunStatus.WAITING
    return made


def test_healthy_orders_violate_nothing(orders):
    """Completed, refunded, declined, waiting and just-placed orders break no invariant."""
    results = invariants.invariants_check()

    assert results == {invariant.name: [] for invariant in invariants.INVARIANTS}
    assert invariants.orders_in_flight().count() == 2  # the waiting one and the fresh one


def test_scope_limits_the_check_to_some_orders(orders):
    """Given a queryset, the order invariants look only at those orders."""
    Order.objects.filter(pk=orders.waiting.pk).update(next_run_at=None)
    others = Order.objects.exclude(pk=orders.waiting.pk)

    assert invariants.unfinished_without_wakeup(others) == []
    assert invariants.unfinished_without_wakeup() == orders.ids(orders.waiting)


def test_unfinished_order_with_nothing_due_is_caught(orders):
    Order.objects.filter(pk=orders.waiting.pk).update(next_run_at=None)

    assert invariants.unfinished_without_wakeup() == orders.ids(orders.waiting)


def test_due_work_past_the_grace_is_caught_but_a_backoff_is_not(orders):
    """A retry due a little while ago is only late; one due long past the grace was forgotten."""
    now = clock.now()
    Order.objects.filter(pk=orders.fresh.pk).update(next_run_at=now - timedelta(seconds=5))
    assert invariants.overdue_without_lease(now=now) == []

    late = now - timedelta(seconds=invariants.default_grace() + 1)
    Order.objects.filter(pk=orders.fresh.pk).update(next_run_at=late)
    assert invariants.overdue_without_lease(now=now) == orders.ids(orders.fresh)
    assert invariants.overdue_without_lease(now=now, grace=3600) == []


def test_expired_lease_left_behind_is_caught(orders):
    """A worker's lease that ran out long ago, with nobody taking over, is stuck work."""
    expired = clock.now() - timedelta(hours=1)
    Order.objects.filter(pk=orders.fresh.pk).update(
        lease_owner="host:1:dead", lease_until=expired, next_run_at=expired
    )

    assert invariants.expired_lease_left() == orders.ids(orders.fresh)
    assert invariants.overdue_without_lease() == []  # leased: counted once, as a lease


def test_state_and_engine_status_that_disagree_are_caught(orders):
    Order.objects.filter(pk=orders.completed.pk).update(run_status=RunStatus.READY)
    Order.objects.filter(pk=orders.waiting.pk).update(run_status=RunStatus.FINISHED)

    assert invariants.status_contradicts_state() == orders.ids(orders.completed, orders.waiting)


def test_completed_order_charged_twice_is_caught(orders):
    """A second charge under another key: the gateway's ledger shows two."""
    order = orders.completed
    PaymentGatewaySimulator().charge(
        amount=order.total, currency="EUR", token="tok_ok", reference=str(order.pk), idempotency_key="stray"
    )

    assert invariants.completed_not_charged_once() == orders.ids(order)


def test_cancelled_order_still_charged_is_caught(orders):
    """A charge nobody refunded on a cancelled order: the customer paid for nothing."""
    order = orders.declined
    PaymentGatewaySimulator().charge(
        amount=order.total, currency="EUR", token="tok_ok", reference=str(order.pk), idempotency_key="stray"
    )

    assert invariants.cancelled_not_refunded() == orders.ids(order)


def test_refund_larger_than_the_charge_is_caught(orders):
    RefundRecord.objects.filter(reference=str(orders.refunded.pk)).update(amount=F("amount") * 2)

    assert invariants.refunded_beyond_charges() == orders.ids(orders.refunded)
    assert invariants.cancelled_not_refunded() == orders.ids(orders.refunded)


def test_own_payment_rows_that_disagree_with_the_order_are_caught(orders):
    Payment.objects.filter(order=orders.completed).update(amount=Decimal("0.01"))
    Payment.objects.filter(order=orders.refunded).update(status=Payment.Status.CHARGED)

    assert invariants.payment_records_disagree() == orders.ids(orders.completed, orders.refunded)


def test_negative_stock_is_caught(orders):
    """The database refuses negative stock, so the constraints are dropped for this one test,
    inside a transaction that is rolled back: the checker is the second line of defence."""
    stock = orders.catalogue.stock(orders.catalogue.mug)
    with pytest.raises(_RolledBack), transaction.atomic():
        with connection.cursor() as cursor:
            for name in ("stock_on_hand_not_negative", "stock_reserved_within_on_hand"):
                cursor.execute(f"ALTER TABLE fulfillment_stock DROP CONSTRAINT {name}")
        type(stock).objects.filter(pk=stock.pk).update(on_hand=-1)
        assert invariants.stock_out_of_bounds() == [str(stock.pk)]
        raise _RolledBack

    assert invariants.stock_out_of_bounds() == []


class _RolledBack(Exception):
    pass


def test_reserved_count_off_the_live_reservations_is_caught(orders):
    stock = orders.catalogue.stock(orders.catalogue.tee)
    type(stock).objects.filter(pk=stock.pk).update(reserved=F("reserved") + 1)

    assert invariants.stock_reserved_mismatch() == [str(stock.pk)]


def test_cancelled_order_holding_a_reservation_is_caught(orders):
    Reservation.objects.filter(order=orders.completed).update(order=orders.refunded)

    assert invariants.cancelled_holding_stock() == orders.ids(orders.refunded)


def test_completed_order_whose_label_was_voided_is_caught(orders):
    """Voided at the carrier only: our shipment row alone is not enough."""
    LabelRecord.objects.filter(reference=str(orders.completed.pk)).update(voided_at=clock.now())

    assert invariants.completed_without_one_live_label() == orders.ids(orders.completed)


def test_completed_order_whose_shipment_row_was_voided_is_caught(orders):
    """Live at the carrier but voided in our tables: the books disagree."""
    Shipment.objects.filter(order=orders.completed).update(voided_at=clock.now())

    assert invariants.completed_without_one_live_label() == orders.ids(orders.completed)


def test_cancelled_order_with_a_live_label_is_caught(orders):
    order = orders.refunded
    CarrierSimulator().create_label(
        reference=str(order.pk), address={}, weight_grams=1, idempotency_key="stray-label"
    )

    assert invariants.cancelled_with_live_label() == orders.ids(order)


def test_second_message_to_one_order_is_caught(orders):
    """A confirmation sent again under a new Message-ID is a second email to the customer."""
    order = orders.completed
    EmailMessage("Your order, again", "…", to=[order.email], headers={"X-Reference": str(order.pk)}).send()

    assert invariants.mailed_more_than_once() == orders.ids(order)


def test_completed_order_without_its_confirmation_is_caught(orders):
    SentMail.objects.filter(reference=str(orders.completed.pk)).delete()

    assert invariants.completed_without_confirmation() == orders.ids(orders.completed)


def test_state_changed_behind_the_journal_is_caught(orders):
    """QuerySet.update bypasses the FSM, so no transition was journalled."""
    Order.objects.filter(pk=orders.waiting.pk).update(state=OrderState.PICKED)

    assert invariants.journal_disagrees_with_state() == orders.ids(orders.waiting)


def test_transition_that_does_not_start_where_the_last_ended_is_caught(orders):
    transitions = ProcessEvent.objects.filter(process_id=orders.completed.pk, kind=EventKind.TRANSITION)
    middle = transitions.get(to_state=OrderState.LABEL_CREATED)
    ProcessEvent.objects.filter(pk=middle.pk).update(from_state=OrderState.RECEIVED)

    assert invariants.journal_chain_broken() == orders.ids(orders.completed)
    assert invariants.journal_disagrees_with_state() == []


def test_attempt_left_running_without_a_lease_is_caught(orders):
    attempt = StepAttempt.objects.filter(process_id=orders.completed.pk).last()
    StepAttempt.objects.filter(pk=attempt.pk).update(outcome=AttemptOutcome.RUNNING)

    assert invariants.attempt_running_without_lease() == orders.ids(orders.completed)


def test_running_attempt_under_a_live_lease_is_fine(orders):
    """A worker inside its step holds the lease under the attempt's fence: nothing is wrong."""
    StepAttempt.objects.create(
        process_type="fulfillment.order",
        process_id=orders.fresh.pk,
        step="charge_payment",
        attempt=1,
        idempotency_key="k",
        fence=7,
    )
    Order.objects.filter(pk=orders.fresh.pk).update(
        lease_owner="host:1:alive", lease_until=clock.now() + timedelta(seconds=20), fence=7
    )

    assert invariants.attempt_running_without_lease() == []
    Order.objects.filter(pk=orders.fresh.pk).update(fence=8)
    assert invariants.attempt_running_without_lease() == orders.ids(orders.fresh)


class Returns:
    """One return completed (its confirmation sent) and one cancelled before its parcel came
    (its closing notice sent), of one order."""

    def __init__(self):
        with clock.frozen():
            self.order = completed_order()
            self.completed = drive_return(request_return(self.order, ("MUG-001", 1)))
            closed = drive_return(request_return(self.order, ("TEE-042", 1)), parcel=False)
            return_cancel(ret=closed, actor=CLIENT, reason="kept it")
            self.cancelled = drive_return(closed)

    def ids(self, *returns) -> list[str]:
        return sorted(str(ret.pk) for ret in returns)


@pytest.fixture
def returns(catalogue):
    made = Returns()
    assert (made.completed.state, made.cancelled.state) == ("completed", "cancelled")
    for ret in (made.completed, made.cancelled):
        assert SentMail.objects.filter(reference=str(ret.pk)).count() == 1
    return made


def violated() -> dict[str, list[str]]:
    return {name: ids for name, ids in invariants.invariants_check().items() if ids}


def test_healthy_returns_violate_nothing(returns):
    """A completed and a cancelled return, each mailed once, break no invariant; nor does a
    retried send, which offers the same Message-ID and is dropped by the mailbox."""
    return_mail.return_confirmation_send(ret=returns.completed)
    return_mail.return_closed_send(ret=returns.cancelled)

    assert violated() == {}
    offers = SentMail.objects.filter(reference__in=returns.ids(returns.completed, returns.cancelled))
    assert sorted(offers.values_list("duplicate_offers", flat=True)) == [1, 1]


def test_second_message_to_one_return_is_caught(returns):
    """A return's confirmation sent again under a new Message-ID is a second email about it;
    the check scoped to other orders does not see it."""
    ret = returns.completed
    EmailMessage("Your return, again", "…", to=[ret.order.email], headers={"X-Reference": str(ret.pk)}).send()

    assert violated() == {"return_mailed_more_than_once": returns.ids(ret)}
    check = return_invariants.return_mailed_more_than_once
    assert check(Order.objects.filter(pk=returns.order.pk)) == returns.ids(ret)
    assert check(Order.objects.exclude(pk=returns.order.pk)) == []


def test_closing_notice_to_a_completed_return_is_caught(returns):
    """Told both that it was refunded and that it was closed: two messages for one return."""
    return_mail.return_closed_send(ret=returns.completed)

    assert violated() == {"return_mailed_more_than_once": returns.ids(returns.completed)}
