"""Pacing: a degraded service slows its step instead of stopping it.

While a step's service fails a share of its calls (`Health.admitted_share` below 1), a due call
goes at once with the probability of the share it answers; the others wait their turn without
spending an attempt, about `pace_seconds` divided by that share. The longer a process has
waited, the likelier it goes (its chance grows by the share again every `pace_seconds`), so a
slowed step delays a process by seconds, never minutes. Each worker decides alone from the
step's shared health, as Google's client-side adaptive throttling does (SRE book, "Handling
Overload"), but a call held back waits instead of failing.
"""

import random
from datetime import datetime, timedelta

from processes import journal
from processes.flow.health import Health
from processes.models.flow import where
from processes.models.journal import EventKind
from processes.models.process import Hold
from processes.policies import CircuitPolicy
from processes.workflow import Step

# The longest one wait between two looks (seconds, before jitter): a look costs a claim, so
# not too often, and a slowed step must never park a process for long.
LONGEST_WAIT = 5.0
rng = random.Random()


def pace(process, step: Step, key: str, seen: Health, now: datetime) -> bool:
    """May the process call its slowed step now? Otherwise it is held until its next look
    (`next_run_at` moved; the caller saves). A process that goes is no longer held."""
    policy: CircuitPolicy = step.circuit
    admitted = seen.admitted_share(policy)
    paced = process.held_by == Hold.PACE and process.held_key == key
    waited = (now - process.held_since).total_seconds() if paced else 0.0
    if rng.random() < min(1.0, admitted * (1 + waited / policy.pace_seconds)):
        if paced:
            process.stop_holding()
        return True
    wait = min(LONGEST_WAIT, policy.pace_seconds / admitted) * rng.uniform(0.5, 1.5)
    process.next_run_at = now + timedelta(seconds=wait)
    if process.hold(Hold.PACE, key, now):
        noun = process._meta.verbose_name_plural
        journal.note(
            process,
            EventKind.CIRCUIT,
            f"{where(step.name, key)} slowed: {seen.summary(noun)}; calls go at {round(100 * admitted)} % of "
            f"the normal rate: waits its turn, no attempt is spent",
        )
    return False
