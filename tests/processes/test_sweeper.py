"""The sweeper wakes exactly the processes that are due and whose wake-up is missing or lost."""

import threading
from datetime import timedelta
from decimal import Decimal

from django.db import connection, connections, transaction
from django_q.models import OrmQ

from fulfillment.models import Order, OrderState
from fulfillment.simulators.faults import fault_add
from processes import clock, conf
from processes.models.journal import EventKind, ProcessEvent
from processes.models.process import RunStatus
from processes.sweeper import due_queryset, sweep_once
from processes.wakeup import RUN_PROCESS_TASK
from tests.conftest import ENGINE_DB
from tests.factories import ADDRESS, drive, place_order, run_due

pytestmark = ENGINE_DB

LABEL = "fulfillment.order"


def woken() -> list[str]:
    """The process ids of the wake-ups waiting in the ORM broker, one entry per message."""
    pks = []
    for message in OrmQ.objects.all():
        assert message.task["func"] == RUN_PROCESS_TASK
        label, pk = message.task["args"]
        assert label == LABEL
        pks.append(pk)
    return pks


def bulk_orders(warehouse, count: int, **fields) -> list[Order]:
    """Insert bare order rows without a journal or wake-up, for volume tests."""
    return Order.objects.bulk_create(
        [
            Order(
                email=f"bulk{i}@example.com",
                shipping_address=ADDRESS,
                warehouse=warehouse,
                payment_token="tok_ok",
                total=Decimal("10.00"),
                **{"step": "charge_payment", **fields},
            )
            for i in range(count)
        ],
        batch_size=1000,
    )


def test_fresh_order_is_not_woken_twice(catalogue):
    """An order just placed already has its wake-up in the queue: the sweeper leaves it alone."""
    with clock.frozen():
        order = place_order()
        assert woken() == [str(order.pk)]

        assert sweep_once() == 0
        assert woken() == [str(order.pk)]


def test_lost_wake_up_is_resent_after_redeliver_after(catalogue):
    """A wake-up not acted on for REDELIVER_AFTER seconds is taken as lost and sent again, once."""
    with clock.frozen():
        order = place_order()
        OrmQ.objects.all().delete()  # the broker lost the message
        placed_at = clock.now()

        clock.advance(conf.get("REDELIVER_AFTER") - 1)
        assert sweep_once() == 0
        assert woken() == []

        clock.advance(2)
        assert sweep_once() == 1
        assert woken() == [str(order.pk)]
        order.refresh_from_db()
        assert order.enqueued_at == clock.now() > placed_at

        assert sweep_once() == 0
        assert woken() == [str(order.pk)]


def test_order_due_later_is_not_swept(catalogue):
    """An order whose next_run_at is in the future is not woken, even with no wake-up pending."""
    with clock.frozen():
        order = place_order()
        later = clock.now() + timedelta(minutes=10)
        Order.objects.filter(pk=order.pk).update(next_run_at=later, enqueued_at=None)
        OrmQ.objects.all().delete()

        clock.advance(timedelta(minutes=9))
        assert sweep_once() == 0
        assert woken() == []

        clock.advance(timedelta(minutes=1))
        assert sweep_once() == 1
        assert woken() == [str(order.pk)]


def test_backing_off_order_is_swept_once_due(catalogue):
    """A retry scheduled after the last wake-up (next_run_at > enqueued_at) is woken when due."""
    with clock.frozen():
        order = place_order()
        fault_add(service="payment", operation="charge", mode="unavailable", reference=str(order.pk))
        run_due(order)
        order.refresh_from_db()
        assert ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.RETRY_SCHEDULED).count() == 1
        assert order.state == OrderState.RECEIVED and order.step == "charge_payment"
        assert order.next_run_at > order.enqueued_at
        assert order.next_run_at > clock.now()
        OrmQ.objects.all().delete()

        assert sweep_once() == 0

        clock.advance(order.next_run_at - clock.now())
        assert sweep_once() == 1
        assert woken() == [str(order.pk)]
        assert sweep_once() == 0
        assert woken() == [str(order.pk)]


def test_finished_order_is_never_swept(catalogue):
    """A completed order has no next_run_at and stays asleep however much time passes."""
    with clock.frozen():
        order = drive(place_order())
        assert order.state == OrderState.COMPLETED
        assert order.run_status == RunStatus.FINISHED and order.next_run_at is None
        OrmQ.objects.all().delete()

        for _ in range(3):
            clock.advance(timedelta(days=1))
            assert sweep_once() == 0
        assert woken() == []


def test_second_sweep_sends_nothing_more(catalogue):
    """Several due orders are woken once each; an immediate second sweep wakes none again."""
    with clock.frozen():
        orders = [place_order() for _ in range(5)]
        OrmQ.objects.all().delete()
        clock.advance(conf.get("REDELIVER_AFTER") + 1)

        assert sweep_once() == 5
        assert sweep_once() == 0

        assert sorted(woken()) == sorted(str(order.pk) for order in orders)


def test_sweeper_query_uses_the_partial_due_index(catalogue):
    """Among thousands of finished orders, the due ones are found through fulfillment_order_due."""
    with clock.frozen():
        bulk_orders(catalogue.warehouse, 4000, next_run_at=None, run_status=RunStatus.FINISHED, step="")
        bulk_orders(catalogue.warehouse, 5, next_run_at=clock.now() - timedelta(seconds=5))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE fulfillment_order")

        now = clock.now()
        query = due_queryset(Order, now).order_by("next_run_at").values_list("pk", flat=True)[:500]
        plan = query.explain()
        with transaction.atomic():  # the sweeper's own form: locked, skipping rows others hold
            locking_plan = query.select_for_update(skip_locked=True).explain()

        assert len(list(query)) == 5
    for text in (plan, locking_plan):
        assert "fulfillment_order_due" in text, text
        assert "Seq Scan on fulfillment_order" not in text, text


def test_two_sweepers_at_once_wake_each_due_order_exactly_once(catalogue, settings):
    """Two concurrent sweepers share the due rows (SKIP LOCKED): every order is woken once in all."""
    settings.PROCESSES = {**settings.PROCESSES, "SWEEP_BATCH": 25}
    due = 300
    with clock.frozen():
        bulk_orders(catalogue.warehouse, due, next_run_at=clock.now() - timedelta(seconds=1))
        start = threading.Barrier(2, timeout=10)
        totals, errors = [], []

        def sweeper():
            swept = 0
            try:
                start.wait()
                while woke := sweep_once():
                    swept += woke
            except Exception as exc:  # reported by the assertion below
                errors.append(exc)
            finally:
                totals.append(swept)
                connections.close_all()

        threads = [threading.Thread(target=sweeper) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert not errors, errors
        assert sum(totals) == due
        assert sweep_once() == 0

    pks = woken()
    assert len(pks) == due
    assert len(set(pks)) == due
    assert not Order.objects.filter(enqueued_at__isnull=True).exists()


@ENGINE_DB
def test_loop_lease_row_is_made_again_when_missing():
    """A flush removes the loop's lease row; the loop makes it again instead of never running."""
    from processes.models.workers import SweeperLease
    from processes.sweeper import _hold_loop_lease

    SweeperLease.objects.all().delete()
    assert _hold_loop_lease("me") is True
    assert SweeperLease.objects.get().owner == "me"
    assert _hold_loop_lease("someone-else") is False
