"""A retry policy backs off exponentially up to its cap, with full jitter, and refuses nonsense."""

import random

import pytest

from fulfillment.errors import OutOfStock
from fulfillment.gateways import PaymentDeclined, ServiceTimeout, ServiceUnavailable
from processes.exceptions import AmbiguousError, PermanentError, RetryableError
from processes.leases import LeaseExpired
from processes.policies import COMPENSATION_RETRY, OnExhausted, RetryPolicy


def test_ceilings_double_from_the_base():
    """The largest delay after attempt n is base * 2**(n-1) while below the cap."""
    policy = RetryPolicy(max_attempts=10, backoff_base=0.5, backoff_cap=1000.0)

    assert [policy.ceiling(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]


def test_ceilings_stop_at_the_cap():
    """Once doubling would pass the cap, every later ceiling is the cap itself."""
    policy = RetryPolicy(max_attempts=50, backoff_base=1.0, backoff_cap=30.0)

    assert [policy.ceiling(n) for n in range(1, 8)] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    assert all(policy.ceiling(n) == 30.0 for n in range(6, 51))


def test_ceilings_never_decrease():
    """A later attempt never waits less at most than an earlier one."""
    policy = RetryPolicy(max_attempts=40, backoff_base=0.3, backoff_cap=77.0)
    ceilings = [policy.ceiling(n) for n in range(1, 41)]

    assert ceilings == sorted(ceilings)
    assert max(ceilings) == 77.0


def test_ceiling_is_the_cap_for_any_attempt_the_policy_allows():
    """A policy that allows 2000 attempts gives the cap as the ceiling of each of them."""
    policy = RetryPolicy(max_attempts=2000, backoff_base=1.0, backoff_cap=60.0)

    assert policy.ceiling(2000) == 60.0


@pytest.mark.parametrize("seed", [0, 1, 42, 2024])
def test_seeded_delays_stay_between_zero_and_the_ceiling(seed):
    """Full jitter: each delay drawn is within [0, ceiling(attempt)]."""
    policy = RetryPolicy(max_attempts=12, backoff_base=1.0, backoff_cap=60.0)
    rng = random.Random(seed)

    for attempt in range(1, 13):
        delays = [policy.delay(attempt, rng) for _ in range(500)]
        assert all(0 <= d <= policy.ceiling(attempt) for d in delays), attempt


def test_jitter_spreads_delays_over_the_whole_range():
    """Delays are not all equal to the ceiling: many failing processes do not retry in lockstep."""
    policy = RetryPolicy(max_attempts=10, backoff_base=1.0, backoff_cap=60.0)
    rng = random.Random(7)
    delays = [policy.delay(6, rng) for _ in range(2000)]

    assert len(set(delays)) > 1900
    assert min(delays) < 32.0 * 0.1
    assert max(delays) > 32.0 * 0.9


def test_same_seed_gives_same_delays():
    """A seeded random source makes the backoff reproducible."""
    policy = RetryPolicy()

    first = [policy.delay(n, random.Random(3)) for n in range(1, 6)]
    second = [policy.delay(n, random.Random(3)) for n in range(1, 6)]

    assert first == second


def test_delay_without_a_random_source_is_still_bounded():
    """The default random source also keeps delays within [0, ceiling]."""
    policy = RetryPolicy(max_attempts=5, backoff_base=2.0, backoff_cap=10.0)

    assert all(0 <= policy.delay(3) <= 8.0 for _ in range(200))


def test_zero_base_means_no_wait():
    """A policy with base and cap 0 retries at once."""
    policy = RetryPolicy(max_attempts=3, backoff_base=0.0, backoff_cap=0.0)

    assert policy.delay(3, random.Random(1)) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"max_attempts": 0}, "Inconsistent retry policy"),
        ({"max_attempts": -3}, "Inconsistent retry policy"),
        ({"backoff_base": 10.0, "backoff_cap": 5.0}, "Inconsistent retry policy"),
        ({"backoff_base": -1.0}, "Inconsistent retry policy"),
        ({"on_exhausted": "give_up"}, "on_exhausted must be 'compensate' or 'needs_attention'"),
        ({"on_exhausted": ""}, "on_exhausted"),
        ({"on_refusal": "retry"}, "on_refusal must be 'compensate' or 'needs_attention'"),
    ],
)
def test_invalid_policies_are_refused(kwargs, fragment):
    """A policy that cannot make sense raises ValueError when it is declared."""
    with pytest.raises(ValueError, match=fragment):
        RetryPolicy(**kwargs)


def test_valid_edge_policies_are_accepted():
    """One attempt, and a cap equal to the base, are legal."""
    policy = RetryPolicy(max_attempts=1, backoff_base=5.0, backoff_cap=5.0)

    assert policy.ceiling(1) == policy.ceiling(9) == 5.0
    assert RetryPolicy(on_exhausted=OnExhausted.NEEDS_ATTENTION).on_exhausted == "needs_attention"


@pytest.mark.parametrize(
    "error",
    [PermanentError("no"), PaymentDeclined("card declined"), OutOfStock("MUG-001: 3 wanted, 0 available")],
)
def test_permanent_errors_are_classified_permanent(error):
    """A business refusal (a PermanentError or subclass) is never retried."""
    assert RetryPolicy().is_permanent(error)


@pytest.mark.parametrize(
    "error",
    [
        RetryableError("later"),
        AmbiguousError("unknown"),
        ServiceUnavailable("503"),
        ServiceTimeout("timeout"),
        LeaseExpired("worker gone"),
        RuntimeError("unexpected"),
        ValueError("bug"),
    ],
)
def test_other_errors_are_retryable(error):
    """Transient, ambiguous and unknown errors are not permanent: they back off and retry."""
    assert not RetryPolicy().is_permanent(error)


def test_a_policy_can_name_its_own_permanent_errors():
    """`permanent_errors` replaces the default classification."""
    policy = RetryPolicy(permanent_errors=(KeyError,))

    assert policy.is_permanent(KeyError("x"))
    assert not policy.is_permanent(PermanentError("x"))


def test_compensation_policy_never_compensates_a_compensation():
    """Undoing that cannot finish asks a person rather than compensating again."""
    assert COMPENSATION_RETRY.on_exhausted == OnExhausted.NEEDS_ATTENTION
    assert COMPENSATION_RETRY.max_attempts >= 1
