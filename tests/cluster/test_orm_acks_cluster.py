"""A real cluster on the database broker: its monitor's acknowledgements reach the queue table
through its pusher's takes (processes.orm_acks), so no finished task is left behind."""

import pytest
from django_q.models import OrmQ

from fulfillment.models import Order
from processes.models.process import RunStatus
from tests.cluster.conftest import wait_for
from tests.conftest import ENGINE_DB
from tests.factories import place_order

pytestmark = [pytest.mark.cluster, ENGINE_DB]


def test_finished_tasks_leave_the_queue_table(catalogue, start_cluster):
    """Once three orders have finished, every wake-up the cluster took for them has been deleted
    from the queue table."""
    start_cluster()
    orders = [place_order() for _ in range(3)]
    ids = [order.pk for order in orders]

    wait_for(
        lambda: not Order.objects.filter(pk__in=ids).exclude(run_status=RunStatus.FINISHED).exists(),
        what="three orders to finish",
    )
    wait_for(lambda: not wake_ups_left(), what="the queue table to empty", timeout=10.0, pick=False)


def wake_ups_left() -> list[int]:
    """The queue's rows other than the sweeper loop's (a bare qcluster starts one, and it runs
    for as long as the cluster does)."""
    return [row.pk for row in OrmQ.objects.all() if row.task["func"] != "processes.tasks.sweep_loop"]
