"""/metrics shows each step's circuit state and the processes it defers, at a fixed cost."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from processes import clock
from processes.flow import operators
from processes.journal import Actor
from processes.models.journal import ActorType
from tests.circuit_scenarios import LABEL, open_label_circuit
from tests.conftest import ENGINE_DB
from tests.factories import place_order, run_due
from tests.ops.test_metrics import scrape

pytestmark = ENGINE_DB
STATES = ["closed", "open", "half_open", "paused"]


def states_of(metrics, step: str) -> dict[str, float]:
    series = metrics["processes_circuit_state"]
    return {
        state: series[(("key", ""), ("state", state), ("step", step), ("workflow", "order"))]
        for state in STATES
    }


def deferred(metrics, step: str) -> float:
    return metrics["processes_circuit_deferred_processes"][
        (("key", ""), ("step", step), ("workflow", "order"))
    ]


def step_series(metrics, name: str, step: str) -> float:
    return metrics[name][(("key", ""), ("step", step), ("workflow", "order"))]


def test_circuit_state_and_deferred_processes_per_step(catalogue, client, metrics_settings):
    """An open label circuit holding two orders, a paused payment step, and steps never opened."""
    open_label_circuit(then=1)  # ten orders fail at the label, the circuit opens, two wait
    operators.pause(LABEL, "charge_payment", actor=Actor(ActorType.OPERATOR, "olga"), reason="window")

    metrics = scrape(client)

    assert states_of(metrics, "create_label") == {"closed": 0, "open": 1, "half_open": 0, "paused": 0}
    assert states_of(metrics, "charge_payment") == {"closed": 0, "open": 0, "half_open": 0, "paused": 1}
    assert states_of(metrics, "fraud_check")["closed"] == 1  # no circuit row yet: closed
    assert states_of(metrics, "send_confirmation")["closed"] == 1
    assert deferred(metrics, "create_label") == 2
    assert deferred(metrics, "charge_payment") == 0
    # The label step stopped: every call of its window failed, none goes but probes.
    assert step_series(metrics, "processes_step_failed_call_ratio", "create_label") == 1
    assert step_series(metrics, "processes_step_admitted_ratio", "create_label") == 0
    assert step_series(metrics, "processes_step_admitted_ratio", "send_confirmation") == 1
    waiting = metrics["processes_step_waiting_processes"]
    on = {dict(k)["on"]: v for k, v in waiting.items() if dict(k)["step"] == "create_label"}
    assert on == {"circuit": 2, "pace": 0, "limit": 0}
    assert "pick" not in {dict(key)["step"] for key in metrics["processes_circuit_state"]}  # no circuit


def test_circuit_metrics_cost_the_same_for_many_held_orders(catalogue, client, metrics_settings):
    open_label_circuit(then=1)
    with CaptureQueriesContext(connection) as few:
        before = scrape(client)
    with clock.frozen(clock.now()):
        for _ in range(10):
            run_due(place_order())  # each waits at the open label step
    with CaptureQueriesContext(connection) as many:
        after = scrape(client)

    assert deferred(before, "create_label") == 2 and deferred(after, "create_label") == 12
    assert len(many) == len(few)
