"""A short chaos soak on each broker ends with every order at rest and no invariant violated.

Heavy faults (transient errors, timeouts after the effect, latency, declined cards, sold-out
lines, a tenth of the queue's messages thrown away) while a worker inside a step, the worker
running the sweeper loop, or a whole cluster is SIGKILLed every couple of seconds.
"""

import pytest

from fulfillment.invariants import INVARIANTS, invariants_check
from fulfillment.models import Order
from tests.conftest import ENGINE_DB

pytestmark = [pytest.mark.cluster, ENGINE_DB]

ORDERS = 50
# The soak's own bound; a run usually ends in well under a minute, but the heavy profile's
# backoffs (up to 32 s for a fifth failed confirmation) and a killed step's lease (25 s) can
# stack up on an unlucky order, and since the circuit breakers hold a step whose service fails
# 30 % of the time, an order may also wait out a few cool-downs (seen: 131 s for one order).
SHORT_SOAK = ["--orders", str(ORDERS), "--workers", "3", "--kill-every", "2", "--faults", "heavy"]
SHORT_SOAK += ["--timeout", "360"]
# A lost wake-up is sent again after 5 s instead of 30, and a circuit that heavy faults open
# (a service failing 30 % of the time may well show 50 % in a small window) probes after 2 s
# instead of 30, up to 10 s instead of 5 min: the same recoveries, in test time.
FAST_REDELIVERY = {"REDELIVER_AFTER": "5", "CIRCUIT_COOLDOWN": "2", "CIRCUIT_COOLDOWN_CAP": "10"}


def assert_soak_passed(report: dict) -> None:
    assert report["violations"] == {invariant.name: 0 for invariant in INVARIANTS}, report
    figures = report["placed"], report["lost"], report["in_flight"], report["timed_out"]
    assert figures == (ORDERS, 0, 0, False)
    assert report["completed"] + report["cancelled"] + report["needs_attention"] == ORDERS
    assert report["completed"] > 0 and report["cancelled"] > 0, "heavy faults cancel some orders"
    assert report["kills_total"] >= 2, report["kills"]
    assert report["ok"] and report["exit_status"] == 0
    assert all(ids == [] for ids in invariants_check(orders=Order.objects.all()).values())


def test_short_soak_on_the_orm_broker(run_soak):
    """One cluster on the ORM broker (at-least-once: a killed worker's task comes back)."""
    report = run_soak(*SHORT_SOAK, "--seed", "11", timeout=420, **FAST_REDELIVERY)

    assert report["broker"] == "orm"
    assert_soak_passed(report)


def test_short_soak_on_the_redis_broker_with_two_clusters(run_soak, soak_redis_url):
    """Two clusters side by side on the Redis broker (at-most-once: a message a killed cluster
    had taken is gone, and only the sweeper brings the order back)."""
    args = [*SHORT_SOAK, "--clusters", "2", "--seed", "12"]
    report = run_soak(*args, timeout=420, REDIS_URL=soak_redis_url, **FAST_REDELIVERY)

    assert (report["broker"], report["clusters"]) == ("redis", 2)
    assert_soak_passed(report)
