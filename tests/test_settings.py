"""The deployment settings refuse bad environment values with a message naming the variable."""

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from fulfillment.environment import env_bool, env_float, env_int


def test_bad_boolean_names_variable(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG")


def test_bad_number_names_variable(monkeypatch):
    monkeypatch.setenv("Q_WORKERS", "two")
    with pytest.raises(ImproperlyConfigured, match="Q_WORKERS='two' is not a whole number"):
        env_int("Q_WORKERS", 2, minimum=1)


def test_rate_out_of_range_is_refused(monkeypatch):
    monkeypatch.setenv("SIM_TRANSIENT_ERROR_RATE", "1.5")
    with pytest.raises(ImproperlyConfigured, match="at most 1"):
        env_float("SIM_TRANSIENT_ERROR_RATE", 0.0, maximum=1)


def test_suite_runs_on_postgresql(db):
    """The suite must never silently fall back to SQLite."""
    from django.db import connection

    assert connection.vendor == "postgresql"


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"CIRCUIT_COOLDOWN": "60", "CIRCUIT_COOLDOWN_CAP": "10"}, "CIRCUIT_COOLDOWN_CAP=10 must be"),
        ({"CIRCUIT_COOLDOWN": "soon"}, "CIRCUIT_COOLDOWN='soon' is not a number"),
        ({"CIRCUIT_SETTLE": "0"}, "CIRCUIT_SETTLE='0' must be at least 0.1"),
    ],
)
def test_bad_circuit_cooldowns_stop_start_up_with_their_names(environment, message):
    """The settings module refuses them before anything runs, naming the variables."""
    from django.conf import settings

    done = subprocess.run(
        [sys.executable, "-c", "import fulfillment.settings"],
        cwd=settings.BASE_DIR,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and message in done.stderr
