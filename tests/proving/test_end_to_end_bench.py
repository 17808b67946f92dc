"""`manage.py bench --end-to-end --json` runs the service as production does and measures every order.

The bench runs as a child process on pytest's test database (its gunicorn and cluster must see
committed rows). Kept short: one step of 3 orders a second for 4 seconds, 2 workers, 1 web worker.
"""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

from fulfillment.models import Order, OrderState
from fulfillment.proving import chaos, e2e_bench, e2e_stack
from tests.conftest import ENGINE_DB
from tests.external_processes import wait_for_sessions_to_close

pytestmark = [pytest.mark.cluster, ENGINE_DB]

APP_NAME = "fulfillment-e2e-bench-test"
RATE, SECONDS = 3, 4
STEP_FIGURES = {
    "phase",
    "target_rate",
    "seconds",
    "sent",
    "placed",
    "measured",
    "errors",
    "late_sends",
    "achieved_rate",
    "place_p50_ms",
    "place_p95_ms",
    "place_p99_ms",
    "to_label_p50_ms",
    "to_label_p95_ms",
    "to_label_p99_ms",
    "to_pick_wait_p50_ms",
    "to_pick_wait_p95_ms",
    "to_pick_wait_p99_ms",
    "to_first_claim_p50_ms",
    "to_first_claim_p95_ms",
    "to_first_claim_p99_ms",
    "first_claim_to_label_p50_ms",
    "first_claim_to_label_p95_ms",
    "first_claim_to_label_p99_ms",
    "to_label_p95_ms_first_third",
    "to_label_p95_ms_last_third",
    "backlog_after_first_third",
    "backlog_at_end",
    "held",
    "not_held_because",
    "load_average",
    "journal",
    "cpu_per_order",
    "queue_depth_max",
    "queue_left_after_completion",
}


@pytest.fixture
def run_bench():
    """Call it with the bench's arguments; returns its JSON result."""
    if connection.vendor != "postgresql":
        pytest.skip("the end-to-end bench measures PostgreSQL: run with DATABASE_URL=postgres://...")

    def run(*args: str) -> dict:
        env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
        env.update(
            DATABASE_URL=chaos.database_url(),
            SECRET_KEY=settings.SECRET_KEY,
            PGAPPNAME=APP_NAME,
            WEB_CONCURRENCY="1",
            Q_CLUSTER_NAME=f"bench-e2e-{connection.settings_dict['NAME']}",
        )
        done = subprocess.run(
            [sys.executable, "manage.py", "bench", "--end-to-end", *args, "--timeout", "60", "--json"],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, f"bench failed:\n{done.stdout}\n{done.stderr[-5000:]}"
        return json.loads(done.stdout)

    yield run
    for app_name in (APP_NAME, e2e_stack.WEB_SESSIONS, e2e_stack.CLUSTER_SESSIONS, e2e_stack.PICKER_SESSIONS):
        wait_for_sessions_to_close(app_name)


def test_a_short_run_measures_every_order_it_placed_from_its_201_to_its_pick(run_bench):
    result = run_bench("--rates", str(RATE), "--seconds", str(SECONDS), "--workers", "2")

    assert result["mode"] == "end_to_end" and result["broker"] == "orm"
    assert result["workers"] == 2 and result["web_workers"] == 1 and result["ramp"] is None
    assert set(result["load_average"]) == {"before", "after"} and result["hold_rule"]
    assert result["settings"]["redeliver_after_seconds"] == 30.0 and result["settings"]["production"] is False
    [step] = result["steps"]
    assert set(step) == STEP_FIGURES
    assert step["phase"] == "rates" and step["target_rate"] == RATE
    assert step["sent"] == step["placed"] == step["measured"] == RATE * SECONDS
    assert step["errors"] == {}
    assert 0 < step["place_p50_ms"] <= step["place_p95_ms"] <= step["place_p99_ms"]
    assert 0 < step["to_label_p50_ms"] <= step["to_label_p95_ms"] <= step["to_label_p99_ms"]
    assert step["to_label_p50_ms"] <= step["to_pick_wait_p50_ms"]
    assert step["first_claim_to_label_p50_ms"] > 0 and step["to_first_claim_p50_ms"] is not None
    # Faults off: each order's five steps went through in one attempt each, nothing held.
    assert step["journal"] == {
        "retries_scheduled": 0,
        "circuit_holds": 0,
        "leases_expired": 0,
        "needs_attention": 0,
        "step_attempts": 5 * RATE * SECONDS,
    }
    cpu = step["cpu_per_order"]
    assert cpu["workers_ms"] > 0 and cpu["web_ms"] > 0 and cpu["database_ms"] > 0
    assert cpu["service_ms"] == pytest.approx(
        cpu["web_ms"] + cpu["workers_ms"] + cpu["picker_ms"] + cpu["database_ms"], abs=0.3
    )
    assert result["highest_steady_rate"] == (RATE if step["held"] else None)
    # The warm-up's orders and the step's, all through the API, all picked and completed.
    placed = Order.objects.filter(email="bench@example.com")
    assert placed.count() == e2e_bench.WARM_UP_ORDERS + RATE * SECONDS
    assert set(placed.values_list("state", flat=True)) == {OrderState.COMPLETED}
