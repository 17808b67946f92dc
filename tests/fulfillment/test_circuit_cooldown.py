"""An order step's circuit waits the cool-down the deployment's settings give when it opens.

SERVICE_CIRCUIT reads CIRCUIT_COOLDOWN and CIRCUIT_COOLDOWN_CAP each time a circuit opens, not
when fulfillment.steps is imported, so a changed setting (`override_settings`, as here) is the
one the next opening uses.
"""

from datetime import timedelta

from django.test import override_settings

from processes import clock
from processes.models.flow import CircuitEvent, CircuitEventKind, CircuitState
from tests.circuit_scenarios import open_label_circuit, run_all_due
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB


def test_a_circuit_opens_for_the_cool_down_the_settings_say_now(catalogue):
    """With CIRCUIT_COOLDOWN at 7 s, the label circuit's first probe is due 7 s after it opened."""
    with override_settings(CIRCUIT_COOLDOWN=7, CIRCUIT_COOLDOWN_CAP=20):
        circuit = open_label_circuit()

    opened = CircuitEvent.objects.get(circuit=circuit, kind=CircuitEventKind.OPENED)
    assert circuit.probe_at - opened.created_at == timedelta(seconds=7)
    assert opened.detail.endswith("next probe in 7s")


def test_a_reopened_circuit_waits_twice_as_long_up_to_the_cap_the_settings_say_now(catalogue):
    """Still down after 7 s: the probes fail and the circuit re-opens for 14 s, cut to the cap
    of 10 s that CIRCUIT_COOLDOWN_CAP gives."""
    with override_settings(CIRCUIT_COOLDOWN=7, CIRCUIT_COOLDOWN_CAP=10):
        circuit = open_label_circuit()
        with clock.frozen(circuit.probe_at):
            run_all_due()
            circuit.refresh_from_db()
            assert (circuit.state, circuit.trips) == (CircuitState.OPEN, 2)
            assert circuit.probe_at - clock.now() == timedelta(seconds=10)

    reopened = CircuitEvent.objects.get(circuit=circuit, kind=CircuitEventKind.REOPENED)
    assert reopened.detail.endswith("next probe in 10s")
