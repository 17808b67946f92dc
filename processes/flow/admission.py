"""What the runner asks a step's flow control, under the process row's lock.

`admit` before a call: may it go now, go as the circuit's probe, or must the process wait (its
`next_run_at` moved; the caller saves)? `call_failed` when a call failed as a sick service
fails, `probe_answered` when the probe got an answer. Each works on the circuit of the step's
flow key (`Step.flow_key`: one carrier account's outage holds only that account's processes).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from processes import conf, journal, leases
from processes.flow import breaker, limits, pacing
from processes.flow.circuit_read import circuit_find
from processes.flow.health import health, recent_health
from processes.models.flow import Circuit, CircuitEventKind, CircuitState
from processes.models.journal import EventKind
from processes.models.process import Hold
from processes.workflow import Blame, Step

GO, PROBE, HELD = "go", "probe", "held"
# Failed calls in a row (this one included) from which failures no longer look random: at 30 %
# random failures, three in a row happen for one call in 37.
RANDOM_RUN = 3


@dataclass(frozen=True)
class Admission:
    """The answer to "may this call go now?", with the flow key it was asked under."""

    verdict: str
    key: str = ""

    @property
    def held(self) -> bool:
        return self.verdict == HELD

    @property
    def probe(self) -> bool:
        return self.verdict == PROBE


FREE = Admission(GO)  # a step without flow control


def admit(process, step: Step, now: datetime) -> Admission:
    """May the process make its call at `step` now? GO, PROBE (go, as the circuit's probe) or
    HELD (its `next_run_at` moved to when it may look again; the caller saves)."""
    key = step.flow_key(process)
    return Admission(_verdict(process, step, key, now), key)


def _verdict(process, step: Step, key: str, now: datetime) -> str:
    verdict = GO if step.circuit is None else _circuit_verdict(process, step, key, now)
    if verdict == GO and step.limit is not None and not limits.acquire(process, step, key, now):
        return HELD
    return verdict


def _circuit_verdict(process, step: Step, key: str, now: datetime) -> str:
    """GO, PROBE or HELD as the circuit and the health of the step's key say (a PROBE has its
    place under the service's limit already)."""
    circuit = _circuit(process.label(), step.name, key)
    if circuit is None or circuit.state == CircuitState.CLOSED:
        if process.held_by == Hold.CIRCUIT:  # it waited for the circuit: it goes in its slot
            return GO if breaker.release_slot(process, step, circuit, now) else HELD
        since = circuit.closed_at if circuit else None
        seen = recent_health(process.label(), step.name, key, step.circuit, now, since=since)
        if seen.slowed(step.circuit):
            return GO if pacing.pace(process, step, key, seen, now) else HELD
        if process.held_by == Hold.PACE:  # the service recovered while it waited its turn
            process.stop_holding()
        return GO
    if pause_over(circuit, now):
        circuit = Circuit.objects.select_for_update().get(pk=circuit.pk)
        if pause_over(circuit, now):
            breaker.close_circuit(circuit, CircuitEventKind.RESUMED, "the pause ended", now, actor="")
        return _circuit_verdict(process, step, key, now)
    if _probe_due(circuit, now):
        circuit = Circuit.objects.select_for_update().get(pk=circuit.pk)
        if _probe_due(circuit, now):
            return _probe(process, step, key, circuit, now)
    return _hold_under_lock(process, step, circuit, now)


def _probe_due(circuit: Circuit, now: datetime) -> bool:
    """The next probe may go: after the cool-down, after a probe that failed (another process
    tries), or after one whose worker died (its time ran out)."""
    if circuit.state == CircuitState.OPEN:
        return due(circuit.probe_at, now)
    return circuit.state == CircuitState.HALF_OPEN and (
        circuit.probe_process is None or circuit.probe_until is None or circuit.probe_until < now
    )


def _probe(process, step: Step, key: str, circuit: Circuit, now: datetime) -> str:
    """Make the process the circuit's (locked) probe, once it has its place under the limit."""
    if step.limit is not None and not limits.acquire(process, step, key, now):
        return HELD
    # It stays held by the circuit while its call is in flight (a failed probe waits on, with
    # no second journal line); wake-ups pass over a process whose lease is live.
    circuit.state, circuit.probe_process, circuit.updated_at = CircuitState.HALF_OPEN, process.pk, now
    circuit.probe_until = now + timedelta(seconds=leases.seconds(step))
    circuit.save(update_fields=["state", "probe_process", "probe_until", "updated_at"])
    breaker.event(circuit, CircuitEventKind.PROBE, f"{breaker.process_name(process)} tries the service", now)
    journal.note(process, EventKind.CIRCUIT, f"{circuit.where}: goes through as the circuit's probe")
    return PROBE


def _circuit(label: str, step: str, key: str) -> Circuit | None:
    return circuit_find(label=label, step=step, key=key)


def pause_over(circuit: Circuit, now: datetime) -> bool:
    return circuit.state == CircuitState.PAUSED and due(circuit.paused_until, now)


def due(when: datetime | None, now: datetime) -> bool:
    return when is not None and when <= now


def _hold_under_lock(process, step: Step, circuit: Circuit, now: datetime) -> str:
    """Hold the process, deciding under the circuit's lock. A close or a resume that committed
    since the circuit was read is seen here (the process goes on); one that comes later waits
    for this transaction, and its wake-up (`wake_held`, which passes over processes locked by
    a claim) then finds the process held. Decided on a stale read, the process would sleep
    until its next look (up to PAUSE_RECHECK) with its circuit closed."""
    circuit = Circuit.objects.select_for_update().get(pk=circuit.pk)
    if circuit.state == CircuitState.CLOSED:
        return _circuit_verdict(process, step, circuit.key, now)
    breaker.hold(process, circuit, _look_again_at(circuit, step, now), now)
    return HELD


@dataclass(frozen=True)
class Failure:
    """What flow control makes of a call that failed as a sick service fails."""

    held: bool  # the circuit of its key is (now) open: the process waits, the attempt does not count
    backoff_as: int | None = None  # else: back off as after this attempt (None: its own count)


def call_failed(
    process, step: Step, *, key: str, probe: bool, error: BaseException, now: datetime
) -> Failure:
    """A call at `step` failed the way a sick service fails. Held when the circuit of its key
    is (now) open; otherwise the step's retry policy decides, with flow control's backoff."""
    label = process.label()
    circuit = _circuit(label, step.name, key)
    step_aside = timedelta(0)
    if probe and circuit and circuit.probe_process == process.pk and circuit.state == CircuitState.HALF_OPEN:
        circuit = breaker.lock(label, step.name, key)
        if circuit.state == CircuitState.HALF_OPEN and circuit.probe_process == process.pk:
            breaker.probe_failed(circuit, step, process, breaker.describe_error(error), now)
            # Another process probes next: this one looks again a little later.
            step_aside = timedelta(seconds=step.attempt_timeout / 10)
    elif circuit is None or circuit.state == CircuitState.CLOSED:
        seen = health(label, step.name, key, step.circuit, now, since=circuit.closed_at if circuit else None)
        if not _stop_on(process, step, key, circuit, seen, error, now):
            return Failure(held=False, backoff_as=_backoff_as(process, seen))
        circuit = breaker.lock(label, step.name, key)
    else:
        circuit = breaker.lock(label, step.name, key)  # decide on what it is now, as in _hold_under_lock
    if circuit.state == CircuitState.CLOSED:
        return Failure(held=False)  # closed meanwhile: an ordinary failure, retried as its policy says
    process.attempts = max(process.attempts - 1, 0)  # the outage is known: not this process's failure
    process.last_error = breaker.describe_error(error)
    state = circuit.get_state_display().lower()
    journal.note(
        process,
        EventKind.CIRCUIT,
        f"{step.name} failed ({process.last_error}) while its circuit is {state}: the attempt does not count",
    )
    breaker.hold(process, circuit, _look_again_at(circuit, step, now) + step_aside, now)
    return Failure(held=True)


def _stop_on(
    process, step: Step, key: str, circuit: Circuit | None, seen, error: BaseException, now: datetime
) -> bool:
    """Open the step's closed circuit if its health (`seen`) shows an outage; True when it did
    (or another worker did meanwhile)."""
    policy, label = step.circuit, process.label()
    if not seen.shows_outage(policy) and _out_of_retries(process, step):
        # It has one retry left (or none) while others fail too: rather than undo it for an
        # outage, stop the step if every call made since it reached the step failed, for it
        # and one other process at least (at the start of an outage its retries can outrun the
        # processes arriving behind it; a service that still answers some calls is no outage).
        closed_at = circuit.closed_at if circuit else None
        since = max(filter(None, [closed_at, process.step_started_at]), default=None)
        seen = health(label, step.name, key, policy, now, since=since)
        if not seen.all_failed(processes=2):
            return False
    elif not seen.shows_outage(policy):
        return False
    circuit = breaker.lock(label, step.name, key)
    if circuit.state != CircuitState.CLOSED:
        return True
    noun = process._meta.verbose_name_plural
    why = f"{seen.summary(noun)}; last: {breaker.describe_error(error)}"
    if circuit.close_alert_at is not None:  # closed too shortly to call the incident over
        closed = (now - circuit.closed_at).total_seconds()
        circuit.close_alert_at = None
        why = f"{why} ({closed:.0f}s after it closed: the same incident)"
        breaker.open_circuit(circuit, policy, why, now, reopen=True)
    else:
        breaker.open_circuit(circuit, policy, why, now)
    return True


def _backoff_as(process, seen) -> int | None:
    """After a service failure its step goes on from, the process backs off as after a first
    attempt while the failures look random (the calls just before it did not all fail): the
    step's pacing, not each order's growing backoff, keeps the load off a degraded service, so
    a retry need not wait long. At the start of an outage (failures in a row, the circuit not
    open yet) it backs off as its attempts say, giving the evidence time to gather."""
    return 1 if seen.failed_in_a_row < RANDOM_RUN else None


def _out_of_retries(process, step: Step) -> bool:
    """One retry left, or none."""
    policy = step.retry if process.direction == "forward" else step.undo_retry
    return process.attempts >= policy.max_attempts - 1


def probe_answered(process, step: Step, key: str, now: datetime) -> None:
    """The probe got an answer from the service (a success, a refusal such as a decline, or a
    failure of the process's own): the service is back, so the circuit closes and the held
    processes may go."""
    circuit = breaker.lock(process.label(), step.name, key)
    if circuit.state == CircuitState.HALF_OPEN and circuit.probe_process == process.pk:
        why = f"the service answered the probe by {breaker.process_name(process)}"
        breaker.close_circuit(circuit, CircuitEventKind.CLOSED, why, now, actor="")


def is_service_failure(step: Step, direction: str, error: BaseException | None) -> bool:
    """What a circuit counts: a failed call that the step blames on its service (unavailable,
    an ambiguous timeout, an unknown error); never a refusal or a failure of the process's own."""
    if error is None or step.circuit is None:
        return False
    return step.blame(error, direction) == Blame.SERVICE


def _look_again_at(circuit: Circuit, step: Step, now: datetime) -> datetime:
    """When a process held by this circuit should look again: at the next probe, at the end of
    the probe in flight, at the end of the pause; never later than PAUSE_RECHECK from now."""
    when = {
        CircuitState.OPEN: circuit.probe_at,
        # No probe in flight: the last one failed, and the next may go now.
        CircuitState.HALF_OPEN: circuit.probe_until if circuit.probe_process else now,
        CircuitState.PAUSED: circuit.paused_until,
    }.get(circuit.state)
    recheck = now + timedelta(seconds=conf.get("PAUSE_RECHECK"))
    if when is None or when > recheck:
        return recheck
    return max(when, now + timedelta(seconds=step.attempt_timeout / 10))
