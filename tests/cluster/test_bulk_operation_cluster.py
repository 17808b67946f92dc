"""A bulk operation started from the shell runs on a real worker cluster: `bulk_orders run`
prints the operation's id, follows it until the queue's task has finished it, and the orders
are then undone by the workers, each once."""

import pytest

from fulfillment.models import OrderState
from processes.models.bulk import BulkOperation, BulkState
from tests.cluster.conftest import cluster_environment, manage, wait_for
from tests.cluster.test_real_cluster import at_rest
from tests.conftest import ENGINE_DB
from tests.fulfillment.bulk.helpers import ledgers, orders_waiting_for_pick

pytestmark = [pytest.mark.cluster, ENGINE_DB]


def test_bulk_compensate_from_the_shell_runs_on_the_cluster(catalogue, start_cluster):
    orders = orders_waiting_for_pick(3)
    start_cluster()

    out = manage(
        "bulk_orders",
        "run",
        "--action",
        "compensate",
        "--step",
        "pick",
        "--reason",
        "flood",
        "--operator",
        "olga",
        env=cluster_environment(),
    )

    operation = BulkOperation.objects.get()
    assert out.startswith(f"bulk operation {operation.pk}: compensate of 3 orders")
    assert "compensate of 3 by olga: 3 done, 0 refused, 0 failed" in out
    assert operation.state == BulkState.DONE
    wait_for(lambda: at_rest(*orders), what="the three orders to be undone")
    for order in orders:
        order.refresh_from_db()
        assert order.state == OrderState.CANCELLED
    money = ledgers(orders)
    assert money["charged"] == money["refunded"] and money["live labels"] == 0
