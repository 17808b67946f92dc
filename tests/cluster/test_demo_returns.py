"""`place_demo_orders` against a real cluster: its returns go through on their own, refunded
exactly the returned line's amount with the unit back on hand, as `make run` shows them."""

import subprocess
import sys
from collections import Counter
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection

from fulfillment.models import Return, ReturnState, Stock
from fulfillment.proving.demo import demo_data_load
from tests.cluster.conftest import APP_NAME, cluster_environment
from tests.conftest import ENGINE_DB
from tests.external_processes import wait_for_sessions_to_close
from tests.factories import payment_ledger

pytestmark = [pytest.mark.cluster, ENGINE_DB]


def test_place_demo_orders_requests_returns_that_complete_on_their_own():
    if connection.vendor != "postgresql":
        pytest.skip("real clusters need a shared database: run with DATABASE_URL=postgres://...")
    demo_data_load(stock_per_product=100)
    on_hand = dict(Stock.objects.values_list("product__sku", "on_hand"))
    environment = cluster_environment(
        SIMULATED_PICKER="1",
        SIMULATED_PICKER_DELAY="0",
        SIMULATED_RETURNS="1",
        SIMULATED_CARRIER_DELAY="1",
        SIMULATED_INSPECTOR_DELAY="1",
    )
    try:
        done = subprocess.run(
            [
                sys.executable,
                "manage.py",
                "place_demo_orders",
                "--count",
                "6",
                "--returns",
                "2",
                "--seed",
                "7",
            ],
            cwd=settings.BASE_DIR,
            env=environment,
            capture_output=True,
            text=True,
            timeout=240,
        )
    finally:
        wait_for_sessions_to_close(APP_NAME, timeout=40.0)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Requested 2 returns of completed orders" in done.stdout

    returns = list(Return.objects.select_related("refund"))
    assert len(returns) == 2
    back = Counter()
    for ret in returns:
        line = ret.lines.get()
        assert ret.state == ReturnState.COMPLETED and line.quantity == 1
        assert ret.refund.amount == line.order_line.unit_price > Decimal("0")
        assert payment_ledger(ret.order)["refunded"] == ret.refund.amount
        back[line.order_line.sku] += 1
    after = dict(Stock.objects.values_list("product__sku", "on_hand"))
    assert after == {sku: units + back[sku] for sku, units in on_hand.items()}  # the returned units, once
