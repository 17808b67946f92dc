"""A short chaos soak on each broker ends with every order at rest and no invariant violated,
with returns in the mix: a third of the completed orders sent back, their parcels and
inspections delivered while the same kills and faults go on, every return at rest at the end.

Heavy faults (transient errors, timeouts after the effect, latency, declined cards, cards whose
issuer does not answer, sold-out lines, a tenth of the queue's messages thrown away) while a
worker inside a step, the worker running the sweeper loop, or a whole cluster is SIGKILLed
every couple of seconds. The circuit breakers run with their production cool-downs: a breaker
that stopped a step on this noise would hold its orders for 30 s and more, and fail the soak.
"""

import pytest

from fulfillment.models import Order
from fulfillment.proving.invariants import INVARIANTS, invariants_check
from tests.conftest import ENGINE_DB

pytestmark = [pytest.mark.cluster, ENGINE_DB]

ORDERS = 50
# The soak's own bound; a run usually ends in about a minute, but the heavy profile's backoffs
# (up to 32 s for a fifth failed confirmation) and a killed step's lease (25 s) can stack up on
# an unlucky order.
SHORT_SOAK = ["--orders", str(ORDERS), "--workers", "3", "--kill-every", "2", "--faults", "heavy"]
SHORT_SOAK += ["--timeout", "360", "--returns", "0.3"]
# A lost wake-up is sent again after 5 s instead of 30 (docs/flow-control.md's production-default soaks
# run the 30 s). The circuits keep their production cool-downs (30 s, up to 5 min).
FAST_REDELIVERY = {"REDELIVER_AFTER": "5"}


def assert_soak_passed(report: dict) -> None:
    assert report["violations"] == {invariant.name: 0 for invariant in INVARIANTS}, report
    figures = report["placed"], report["lost"], report["in_flight"], report["timed_out"]
    assert figures == (ORDERS, 0, 0, False)
    assert report["completed"] + report["cancelled"] + report["needs_attention"] == ORDERS
    assert report["completed"] > 0 and report["cancelled"] > 0, "heavy faults cancel some orders"
    assert report["kills_total"] >= 2, report["kills"]
    returns = report["returns"]
    assert returns["requested"] > 0 and returns["completed"] > 0, returns
    assert (returns["lost"], returns["in_flight"], returns["stock_not_counted_once"]) == (0, 0, []), returns
    assert returns["completed"] + returns["cancelled"] + returns["needs_attention"] == returns["requested"]
    assert report["stock_not_counted_once"] == []
    assert report["ok"] and report["exit_status"] == 0
    assert all(ids == [] for ids in invariants_check(orders=Order.objects.all()).values())
    # Noise is not an outage: no step stopped, and no order waited on a circuit.
    assert report["circuits_opened"] == 0, (report["waits"], report["circuit_history"])
    assert report["waits"]["circuit"] == {"orders": 0, "longest": 0.0}, report["circuit_history"]


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
