"""A bulk operation acts once on each order it froze, in batches, whatever kills its runner."""

import os
from collections import Counter
from datetime import timedelta

import pytest

from fulfillment.bulk_actions import LABEL
from fulfillment.models import OrderState, Stock
from processes import clock, conf
from processes.bulk import bulk_cancel, bulk_run, bulk_start, restart_stale
from processes.exceptions import ProcessStateError
from processes.models.bulk import BulkItem, BulkOperation, BulkState, ItemOutcome
from processes.models.journal import ProcessEvent
from tests.conftest import ENGINE_DB
from tests.fulfillment.bulk.helpers import (
    OLGA,
    completed_orders,
    ledgers,
    orders_waiting_for_pick,
    reserved_units,
    run_to_rest,
)

pytestmark = ENGINE_DB


def start(orders, action="compensate", reason="the warehouse is flooded", **kwargs):
    ids = [order.pk for order in orders]
    return bulk_start(label=LABEL, action=action, process_ids=ids, actor=OLGA, reason=reason, **kwargs)


def catalogue_for(count: int, catalogue) -> None:
    """Enough stock for `count` orders of the default lines (2 mugs and a T-shirt)."""
    Stock.objects.filter(warehouse=catalogue.warehouse).update(on_hand=max(100, 2 * count))


def compensations(orders, operation) -> Counter:
    """How many times each order was turned round by the operation (the journal's transitions)."""
    events = ProcessEvent.objects.filter(
        process_id__in=[o.pk for o in orders],
        to_state="compensating",
        reason__contains=f"bulk operation {operation.pk}",
    )
    return Counter(events.values_list("process_id", flat=True))


def test_a_runner_killed_between_batches_resumes_and_acts_once_per_order(catalogue, settings):
    """One batch, then the worker dies: the sweeper enqueues the operation again once its
    heartbeat is BULK_STALE (30 s) old, the next run does the rest, and every order is undone
    once, its ledgers netting to zero. BULK_ORDERS=500 runs it at 500 orders (minutes)."""
    count = int(os.environ.get("BULK_ORDERS", "10"))
    batch = 4 if count <= 10 else conf.get("BULK_BATCH")
    settings.PROCESSES = {"BULK_BATCH": batch}
    catalogue_for(count, catalogue)
    orders = orders_waiting_for_pick(count)
    operation = start(orders)

    assert bulk_run(operation.pk, max_batches=1) == batch  # ... and the worker is killed here
    operation.refresh_from_db()
    assert (operation.state, operation.done, operation.left) == (BulkState.RUNNING, batch, count - batch)
    assert restart_stale(clock.now() + timedelta(seconds=29)) == 0
    assert restart_stale(clock.now() + timedelta(seconds=31)) == 1
    assert restart_stale(clock.now() + timedelta(seconds=32)) == 0  # its heartbeat moved on
    assert bulk_run(operation.pk) == count - batch
    assert bulk_run(operation.pk) == 0  # a re-delivered task finds nothing left

    operation.refresh_from_db()
    figures = (operation.state, operation.done, operation.refused, operation.failed)
    assert figures == (BulkState.DONE, count, 0, 0)
    assert operation.summary.startswith(f"compensate of {count} by olga: {count} done, 0 refused, 0 failed")
    assert compensations(orders, operation) == {o.pk: 1 for o in orders}
    orders = run_to_rest(orders)
    assert {o.state for o in orders} == {OrderState.CANCELLED}
    money = ledgers(orders)
    assert money["charged"] == money["refunded"] > 0
    assert money["live labels"] == 0 and money["voided labels"] == count
    assert reserved_units(catalogue) == Counter()
    assert not BulkItem.objects.filter(active=True).exists()


def test_journal_names_the_operator_the_reason_and_the_operation(catalogue):
    """Each order's journal says who asked, why, and which bulk operation did it."""
    [order] = orders_waiting_for_pick(1)
    operation = start([order], reason="carrier strike")
    bulk_run(operation.pk)
    event = ProcessEvent.objects.get(process_id=order.pk, to_state="compensating")
    assert event.actor == "olga"
    assert event.reason == f"bulk operation {operation.pk}: carrier strike"


def test_two_operations_over_overlapping_orders_do_not_fight(catalogue):
    """The second operation skips the orders the first holds, saying which holds them; once
    the first is over, its orders are free for another operation."""
    orders = orders_waiting_for_pick(6)
    first, second = start(orders[:4]), start(orders[2:], action="retry")

    assert (second.total, BulkOperation.objects.get(pk=second.pk).refused) == (4, 2)
    skipped = second.items.filter(outcome=ItemOutcome.REFUSED)
    assert {i.process_id for i in skipped} == {o.pk for o in orders[2:4]}
    assert {i.message for i in skipped} == {f"skipped: bulk operation {first.pk} is acting on it"}

    assert bulk_run(second.pk) == 2  # orders 4 and 5: waiting for the pick, nothing to retry
    assert bulk_run(first.pk) == 4
    assert compensations(orders, first) == {o.pk: 1 for o in orders[:4]}
    third = start(orders[:2])
    assert bulk_run(third.pk) == 2
    third.refresh_from_db()
    assert third.refused == 2 and third.done == 0
    assert set(third.items.values_list("message", flat=True)) == {
        f"Order {o.pk} is compensating: there is nothing to compensate." for o in orders[:2]
    }


def test_cancel_stops_between_batches_and_leaves_the_rest_alone(catalogue, settings):
    settings.PROCESSES = {"BULK_BATCH": 2}
    orders = orders_waiting_for_pick(5)
    operation = start(orders)
    bulk_run(operation.pk, max_batches=1)
    bulk_cancel(operation_id=operation.pk, actor=OLGA)
    assert bulk_run(operation.pk) == 0

    operation.refresh_from_db()
    assert operation.state == BulkState.CANCELLED and operation.done == 2
    assert "3 not reached (cancelled)" in operation.summary
    outcomes = Counter(operation.items.values_list("outcome", flat=True))
    assert outcomes == {ItemOutcome.DONE: 2, ItemOutcome.CANCELLED: 3}
    untouched = [
        o
        for o in orders
        if o.pk in set(operation.items.filter(outcome="cancelled").values_list("process_id", flat=True))
    ]
    assert {o.state for o in run_to_rest(untouched)} == {OrderState.AWAITING_PICK}
    with pytest.raises(ProcessStateError, match="is cancelled: nothing to cancel"):
        bulk_cancel(operation_id=operation.pk, actor=OLGA)


def test_refusals_are_counted_and_say_why(catalogue):
    """An order the action refuses is counted refused with the single action's own words."""
    [done] = completed_orders(1)
    operation = start([done], action="retry")
    bulk_run(operation.pk)
    item = operation.items.get()
    assert item.outcome == ItemOutcome.REFUSED
    assert item.message == f"Order {done.pk} has no step to retry (it is completed)."


def test_bad_requests_create_nothing(catalogue):
    [order] = orders_waiting_for_pick(1)
    with pytest.raises(ValueError, match="No bulk action 'explode'"):
        start([order], action="explode")
    with pytest.raises(ValueError, match="Give a reason"):
        start([order], reason="  ")
    assert not BulkOperation.objects.exists()
