"""The policies a step declares: how it retries, when it stops calling its service, and the
limits its service publishes.

Plain frozen dataclasses, checked when they are made, so that a recipe with an impossible
policy fails at import rather than on the first failure. The engine reads them: retries in
processes.failures, circuits in processes.flow, limits in processes.flow.limits. A domain may
import them from processes.workflow, with Step and Workflow.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass

from processes.exceptions import PermanentError


class OnExhausted:
    """What a step does when it gives up (processes.failures.give_up): undo the process, or
    leave it to a person."""

    COMPENSATE = "compensate"
    NEEDS_ATTENTION = "needs_attention"


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently to retry a failing step.

    Delays grow exponentially from `backoff_base` seconds and are capped at `backoff_cap`;
    each delay is drawn uniformly below that bound ("full jitter") so that many processes
    failing at once do not retry in lockstep.
    """

    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    permanent_errors: tuple[type[BaseException], ...] = (PermanentError,)
    on_exhausted: str = OnExhausted.COMPENSATE
    # What a refusal (one of `permanent_errors`) leads to: undoing the process, by default; a
    # step past the point of undoing (a return's refund, once its parcel is in) asks a person.
    on_refusal: str = OnExhausted.COMPENSATE

    def __post_init__(self):
        if self.max_attempts < 1 or self.backoff_base < 0 or self.backoff_cap < self.backoff_base:
            raise ValueError(f"Inconsistent retry policy: {self}")
        for name in ("on_exhausted", "on_refusal"):
            if getattr(self, name) not in (OnExhausted.COMPENSATE, OnExhausted.NEEDS_ATTENTION):
                raise ValueError(
                    f"{name} must be 'compensate' or 'needs_attention', not {getattr(self, name)!r}"
                )

    def is_permanent(self, error: BaseException) -> bool:
        return isinstance(error, self.permanent_errors)

    def ceiling(self, attempt: int) -> float:
        """The largest delay after failed attempt number `attempt` (1-based)."""
        doublings = min(max(attempt - 1, 0), 64)  # past 2**64 every delay is the cap anyway
        return min(self.backoff_cap, self.backoff_base * 2**doublings)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or random).uniform(0, self.ceiling(attempt))


@dataclass(frozen=True)
class CircuitPolicy:
    """When a step stops calling its service, how long it waits, how it tries again.

    The step's health is read from its latest finished calls: at most `window_attempts`, none
    older than `window_seconds`. A call either got an answer or failed as a sick service fails
    (`Step.blame`): a failure that belongs to the process (a declined card, a card whose issuer
    does not answer) is an answer. Failing processes are counted too, each once however often
    it retried, and decide whether the share of failed calls means anything.

    From `degraded_share` failed calls on, from two processes or more and among `min_calls`
    calls at least (two failures of a step's first two calls are no evidence), the service is
    degraded, and its step goes at the rate of the SRE book's accept-ratio rule ("Handling
    Overload"): a due call goes at once with the probability `multiplier` times the share of
    calls answered, capped at 1 and never below `min_admitted`. With the book's multiplier of
    2 the step is slowed only once the service answers fewer than half its calls. The calls
    held back wait about `pace_seconds` divided by that probability, and the longer one has
    waited the likelier it goes, so none waits for long. It stops (its circuit opens) only on
    evidence of an outage: `stop_share` or more of at least `stop_min_calls` calls failed (by
    default the whole window, `window_attempts`), or
    the latest `stop_run` in a row (at the start of an outage the window still holds the
    successes from before it), from at least `min_processes` processes. Fewer calls are no
    evidence even if every one failed: at 30 % random failures a step's first five calls all
    fail for one cold start in 400, and 8 or more of 10 fail about once in 600 windows, which
    a step with little traffic (a soak's refunds) met; 16 or more of 20, about once in 200,000.
    A dead service fails every call, and ten in a row stop it. It then waits
    `cooldown` seconds, without spending attempts, and lets processes through one at a time as
    probes: the first answer closes it; `probes` service failures in a row re-open it for
    twice as long, up to `cooldown_cap`.
    When it closes, the processes it held go at `release_per_second`.

    `cooldown` and `cooldown_cap` may be functions of no argument that return the seconds, for
    a deployment's setting read each time the circuit opens rather than when the recipe is
    imported (`cooldown=lambda: settings.CIRCUIT_COOLDOWN`); processes.checks then checks them
    at start-up, and `cooldowns()` reads them.
    """

    window_seconds: float = 60.0
    window_attempts: int = 20
    min_calls: int = 10
    stop_min_calls: int | None = None  # None: a full window (`window_attempts`)
    degraded_share: float = 0.2
    multiplier: float = 2.0
    min_admitted: float = 0.1
    pace_seconds: float = 1.0
    min_processes: int = 5
    stop_share: float = 0.8
    stop_run: int = 10
    probes: int = 2
    cooldown: float | Callable[[], float] = 30.0
    cooldown_cap: float | Callable[[], float] = 300.0
    release_per_second: float = 5.0

    def __post_init__(self):
        sound = (
            self.window_seconds > 0
            and 2 <= self.min_processes <= self.window_attempts
            and 0 < self.degraded_share <= self.stop_share <= 1
            and self.multiplier >= 1
            and 0 < self.min_admitted <= 1
            and self.min_processes <= self.stop_run <= self.window_attempts
            and 1 <= self.min_calls <= self.window_attempts
            and self.min_calls <= self.stop_calls <= self.window_attempts
            and self.pace_seconds > 0
            and self.probes >= 1
            and (self.reads_settings() or 0 < self.cooldown <= self.cooldown_cap)
            and self.release_per_second > 0
        )
        if not sound:
            raise ValueError(f"Inconsistent circuit policy: {self}")

    def reads_settings(self) -> bool:
        """Whether a cool-down is read when used (a function), not fixed in the recipe."""
        return callable(self.cooldown) or callable(self.cooldown_cap)

    @property
    def stop_calls(self) -> int:
        """The calls a share of failures must be counted over to stop the step."""
        return self.window_attempts if self.stop_min_calls is None else self.stop_min_calls

    def cooldowns(self) -> tuple[float, float]:
        """The cool-down and its cap in seconds, as they read now."""
        return _read(self.cooldown), _read(self.cooldown_cap)

    def cooldown_after(self, trips: int) -> float:
        """The cool-down after the circuit opened `trips` times in a row (1-based), read now."""
        cooldown, cap = self.cooldowns()
        return min(cap, cooldown * 2 ** min(max(trips - 1, 0), 32))


def _read(seconds: float | Callable[[], float]) -> float:
    return seconds() if callable(seconds) else seconds


@dataclass(frozen=True)
class ServiceLimit:
    """A limit a service publishes: at most `calls` calls in any `per_seconds`, and at most
    `concurrency` calls at once, kept across every worker and machine, per flow key (a carrier
    account's own limit). Steps that call the same service name it alike and share it; a call
    over the limit waits its turn without spending an attempt (processes.flow.limits)."""

    service: str
    calls: int | None = None
    per_seconds: float = 1.0
    concurrency: int | None = None

    def __post_init__(self):
        sound = (
            bool(self.service)
            and (self.calls is None or self.calls >= 1)
            and self.per_seconds > 0
            and (self.concurrency is None or self.concurrency >= 1)
            and (self.calls is not None or self.concurrency is not None)
        )
        if not sound:
            raise ValueError(f"Inconsistent service limit (a rate, a concurrency or both): {self}")

    def __str__(self) -> str:
        parts = []
        if self.calls is not None:
            calls = f"{self.calls} call{'s' if self.calls > 1 else ''}"
            parts.append(f"{calls} per {'second' if self.per_seconds == 1 else f'{self.per_seconds:g} s'}")
        if self.concurrency is not None:
            parts.append(f"{self.concurrency} at once")
        return f"{self.service}: {' and '.join(parts)}"


COMPENSATION_RETRY = RetryPolicy(
    max_attempts=8, backoff_base=1.0, backoff_cap=120.0, on_exhausted="needs_attention"
)
