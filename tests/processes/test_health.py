"""A step's health: when it is slowed, when it shows an outage (no database: the arithmetic)."""

import pytest

from processes.flow.health import Health
from processes.policies import CircuitPolicy

POLICY = CircuitPolicy()


def seen(calls: int, failed: int, processes: int, failing: int, in_a_row: int = 0) -> Health:
    return Health(calls, failed, processes, failing, 60.0, failed_in_a_row=in_a_row)


@pytest.mark.parametrize(
    ("health", "admitted"),
    [
        (seen(20, 0, 15, 0), 1.0),  # well
        (seen(20, 3, 15, 3), 1.0),  # 15 % failed: not even degraded
        (seen(20, 6, 15, 5), 1.0),  # 30 % failed: degraded, it answers 70 %: the full rate
        (seen(20, 10, 15, 8), 1.0),  # half answered: twice that is everything
        (seen(20, 12, 15, 8), 0.8),  # 60 % failed: calls at 80 % of the normal rate
        (seen(20, 14, 15, 8), 0.6),
        (seen(20, 19, 6, 5), POLICY.min_admitted),  # nearly all fail: a trickle, never nothing
        (seen(20, 15, 4, 1), 1.0),  # one sick process retrying: never slows the step
        (seen(2, 2, 2, 2), 1.0),  # a step's first two calls failed: no evidence yet
        (seen(10, 7, 8, 4), 0.6),
    ],
)
def test_a_step_is_slowed_in_proportion_to_its_failed_calls(health, admitted):
    assert health.admitted_share(POLICY) == pytest.approx(admitted)


@pytest.mark.parametrize(
    ("health", "outage"),
    [
        (seen(20, 16, 10, 5), True),  # 80 % of the calls, five processes
        (seen(20, 15, 10, 5), False),  # 75 %: a badly degraded service, not a dead one
        (seen(20, 20, 4, 4), False),  # everything fails, but for four processes only
        (seen(20, 12, 12, 6, in_a_row=10), True),  # the latest ten in a row: an outage begins
        (seen(20, 12, 12, 6, in_a_row=9), False),
        (seen(10, 8, 8, 5), False),  # 80 % of ten calls: at 30 % noise, once in 600 windows
        (seen(19, 16, 12, 8), False),  # a window not yet full
        (seen(20, 16, 12, 8), True),  # 80 % of a full window
        (seen(5, 5, 5, 5, in_a_row=5), False),  # a step's first five calls all failed: no evidence yet
        (seen(6, 5, 6, 5), False),  # five of its first six: one answer says the service is there
        (seen(9, 8, 8, 7), False),
    ],
)
def test_only_nearly_all_calls_failing_for_many_processes_shows_an_outage(health, outage):
    assert health.shows_outage(POLICY) is outage


def test_fewer_calls_than_the_evidence_asks_for_are_no_outage_even_if_all_failed():
    """On fewer than `stop_min_calls` calls, and fewer than `stop_run` in a row, nothing stops the
    step, however many processes saw them fail: at 30 % random failures a step's first five
    calls all fail for about one cold start in 400 (the soak's flake), its first ten for about
    one in 170,000. Ten in a row, from five processes, stop it."""
    assert (POLICY.stop_calls, POLICY.stop_run, POLICY.min_processes) == (20, 10, 5)
    for calls in range(POLICY.min_processes, POLICY.min_calls):
        assert not seen(calls, calls, 5, 5, in_a_row=calls).shows_outage(POLICY), calls
        assert not seen(calls, calls, calls, calls, in_a_row=calls).shows_outage(POLICY), calls
    assert seen(10, 10, 5, 5, in_a_row=10).shows_outage(POLICY)
    assert not seen(10, 10, 4, 4, in_a_row=10).shows_outage(POLICY)  # four processes only


def test_a_process_out_of_retries_asks_for_every_call_failing_for_two_processes():
    health = seen(6, 6, 2, 2, in_a_row=6)
    assert not health.shows_outage(POLICY)
    assert health.all_failed(processes=2)
    assert not seen(7, 6, 3, 2).all_failed(processes=2)  # one answer: the service is there
    assert not seen(6, 6, 1, 1).all_failed(processes=2)  # one order alone


def test_the_summary_says_what_the_decision_read():
    summary = seen(22, 7, 18, 5).summary("orders")
    assert summary == "7 of the last 22 calls failed, for 5 of 18 orders (window 60s)"


@pytest.mark.parametrize(
    "changes",
    [
        {"stop_share": 0.1, "degraded_share": 0.2},  # stopping before degraded
        {"multiplier": 0.5},  # held back while every call is answered
        {"min_processes": 1},  # one sick process could stop the step
        {"stop_run": 30},  # a run longer than the window
        {"probes": 0},
        {"min_admitted": 0},  # a slowed step could stop everyone
        {"pace_seconds": 0},
        {"min_calls": 0},
        {"min_calls": 21},  # more than the window holds: never slowed
        {"stop_min_calls": 9},  # stopped on fewer calls than it takes to be slowed
        {"stop_min_calls": 21},  # more than the window holds: never stopped by a share
        {"cooldown": 0},
        {"cooldown": 60, "cooldown_cap": 10},  # a cap shorter than the first cool-down
    ],
)
def test_an_inconsistent_policy_is_refused_with_its_values(changes):
    with pytest.raises(ValueError, match="Inconsistent circuit policy"):
        CircuitPolicy(**changes)


def test_cooldowns_given_as_functions_are_read_each_time_a_circuit_opens():
    """A cool-down read from the settings is read when used: a change shows at the next opening,
    and the cap, read too, still bounds the doubling."""
    setting = {"cooldown": 7.0}
    policy = CircuitPolicy(cooldown=lambda: setting["cooldown"], cooldown_cap=lambda: 20.0)

    assert [policy.cooldown_after(trips) for trips in (1, 2, 3)] == [7.0, 14.0, 20.0]
    setting["cooldown"] = 3.0
    assert policy.cooldowns() == (3.0, 20.0) and policy.cooldown_after(1) == 3.0


@pytest.mark.parametrize(
    ("health", "degraded"),
    [
        (seen(20, 6, 15, 5), True),
        (seen(20, 3, 15, 3), False),
        (seen(8, 4, 6, 4), False),
        (seen(20, 9, 4, 1), False),
    ],
)
def test_a_share_of_failed_calls_on_enough_calls_and_orders_is_degraded(health, degraded):
    assert health.degraded(POLICY) is degraded
