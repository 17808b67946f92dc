"""Two operators confirming overlapping bulk operations at the same moment: each order lands in
one of them only (the partial unique index on active items), the other refuses it."""

import threading

from django.db import connection, transaction

from fulfillment.bulk_actions import LABEL
from processes import tasks
from processes.bulk import bulk_start
from processes.models.bulk import BulkItem, BulkOperation, ItemOutcome
from tests.conftest import ENGINE_DB
from tests.fulfillment.bulk.helpers import OLGA, orders_waiting_for_pick

pytestmark = ENGINE_DB


def test_a_start_waits_for_an_overlapping_one_and_refuses_what_it_took(catalogue):
    orders = orders_waiting_for_pick(4)
    ids = [o.pk for o in orders]
    first_written, release = threading.Event(), threading.Event()
    second = {}

    def first_start():
        try:
            with transaction.atomic():  # the first start's rows stay uncommitted until released
                second["first"] = bulk_start(
                    label=LABEL, action="compensate", process_ids=ids[:3], actor=OLGA, reason="a"
                )
                first_written.set()
                release.wait(10)
        finally:
            connection.close()

    def second_start():
        try:
            second["op"] = bulk_start(
                label=LABEL, action="retry", process_ids=ids[1:], actor=OLGA, reason="b"
            )
        finally:
            connection.close()

    one = threading.Thread(target=first_start)
    one.start()
    assert first_written.wait(10)
    two = threading.Thread(target=second_start)
    two.start()
    two.join(1.0)
    assert two.is_alive()  # its insert waits on the first start's uncommitted items
    release.set()
    one.join(10)
    two.join(10)

    first, later = second["first"], second["op"]
    assert set(
        BulkItem.objects.filter(operation=first, active=True).values_list("process_id", flat=True)
    ) == set(ids[:3])
    refused = BulkItem.objects.filter(operation=later, outcome=ItemOutcome.REFUSED)
    assert set(refused.values_list("process_id", flat=True)) == set(ids[1:3])
    assert {i.message for i in refused} == {f"skipped: bulk operation {first.pk} is acting on it"}
    assert BulkItem.objects.get(operation=later, active=True).process_id == ids[3]
    assert BulkOperation.objects.get(pk=later.pk).refused == 2


def test_the_queue_task_runs_the_operation(catalogue):
    """The django-q2 entry point the start enqueues hands over to the runner."""
    [order] = orders_waiting_for_pick(1)
    operation = bulk_start(label=LABEL, action="compensate", process_ids=[order.pk], actor=OLGA, reason="r")
    assert tasks.run_bulk_operation(operation.pk) == 1
    assert BulkOperation.objects.get(pk=operation.pk).done == 1
