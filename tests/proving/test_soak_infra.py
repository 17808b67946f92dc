"""`soak --faults infra`: its own Redis and PostgreSQL go down while orders move, idle workers
and monitors are killed too, and the run ends with nothing lost, no invariant broken, every
cluster taking work, and an API that answered JSON throughout (503 while the database was
down, orders placed while Redis was). Production timings: nothing here is shortened.
"""

import pytest

from fulfillment.proving.invariants import INVARIANTS

ORDERS = 60


@pytest.mark.cluster
def test_short_infra_soak(run_infra_soak):
    report = run_infra_soak("--orders", str(ORDERS), "--clusters", "2", "--timeout", "400", timeout=700)

    assert report["violations"] == {invariant.name: 0 for invariant in INVARIANTS}, report
    figures = report["placed"], report["lost"], report["in_flight"], report["timed_out"]
    assert figures == (ORDERS, 0, 0, False), report
    assert report["clusters_not_running"] == 0
    assert report["broker"] == "redis"
    assert report["ok"] and report["exit_status"] == 0, report

    redis, postgres = report["infra"]["outages"]
    assert (redis["server"], postgres["server"]) == ("redis", "postgres")
    assert report["infra"]["api_bad_answers"] == 0
    for outage in (redis, postgres):
        assert outage["down_seconds"] >= 10 and outage["settle_seconds"] is not None, outage
        assert outage["resumed_seconds"] is not None, outage
    assert set(postgres["api_answers"]) == {"503"}, postgres  # every answer: try again
    assert redis["api_answers"].get("201", 0) > 0, redis  # orders are still placed
    assert set(redis["api_answers"]) <= {"200", "201", "429"}, redis
