"""The pick step's human-scale thresholds, read lazily from `settings.WAREHOUSE` with defaults.

Read at call time, never at import, so tests can override them; `fulfillment.picking.checks`
refuses bad values at start-up with a message that names the key. The final deadline of a pick
is `settings.PICK_TIMEOUT` (the wait step's timeout, owned by the engine).
"""

from datetime import timedelta

from django.conf import settings

from processes.app_settings import AppSettings

DEFAULTS = {
    # Seconds after a task opens when it counts as close to late: flagged, shift lead emailed once.
    "WARNING_AFTER": 3 * 3600,
    # Seconds a task may stay unclaimed before it is escalated (flagged, emailed once).
    "UNCLAIMED_AFTER": 3600,
    # Seconds a worker may hold a claim without confirming before it goes back to the pool.
    "CLAIM_TIMEOUT": 1800,
    # Who hears about warnings and escalations on the warehouse floor.
    "SHIFT_LEAD_EMAIL": "shift-lead@fulfillment.localhost",
}
DURATIONS = ("WARNING_AFTER", "UNCLAIMED_AFTER", "CLAIM_TIMEOUT")
# The environment variables fulfillment.settings reads them from, for error messages.
ENVIRONMENT = {
    "WARNING_AFTER": "PICK_WARNING_AFTER",
    "UNCLAIMED_AFTER": "PICK_UNCLAIMED_AFTER",
    "CLAIM_TIMEOUT": "PICK_CLAIM_TIMEOUT",
    "SHIFT_LEAD_EMAIL": "SHIFT_LEAD_EMAIL",
}


SETTINGS = AppSettings("WAREHOUSE", DEFAULTS)
values, get = SETTINGS.values, SETTINGS.get


def seconds(name: str) -> timedelta:
    """A duration setting as a timedelta."""
    return timedelta(seconds=get(name))


def pick_timeout() -> timedelta:
    """The final deadline of a pick task, after which operators take over."""
    return timedelta(seconds=settings.PICK_TIMEOUT)
