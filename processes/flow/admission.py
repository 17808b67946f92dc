"""What the runner asks about a step's circuit, under the process row's lock.

`admit` before a call: may it go now (GO), go as the circuit's probe (PROBE), or must the
process wait (HELD, its `next_run_at` moved; the caller saves)? `call_failed` when a call failed
as a sick service fails, `probe_answered` when the probe got an answer.
"""

from datetime import datetime, timedelta

from django.db.models import Q

from processes import conf, journal
from processes.flow import breaker
from processes.flow.health import window
from processes.models import Circuit, CircuitEventKind, CircuitState, EventKind
from processes.workflow import Step

GO, PROBE, HELD = "go", "probe", "held"


def admit(process, step: Step, now: datetime) -> str:
    """May the process make its call at `step` now? GO, PROBE (go, as the circuit's probe) or
    HELD (its `next_run_at` moved to when it may look again; the caller saves)."""
    circuit = Circuit.objects.filter(process_type=process.label(), step=step.name).first()
    if circuit is None or circuit.state == CircuitState.CLOSED:
        if not process.held_since:
            return GO
        return GO if breaker.release_slot(process, step, circuit, now) else HELD
    if pause_over(circuit, now):
        circuit = Circuit.objects.select_for_update().get(pk=circuit.pk)
        if pause_over(circuit, now):
            breaker.close_circuit(circuit, CircuitEventKind.RESUMED, "the pause ended", now, actor="")
        return admit(process, step, now)
    probe_due = Q(state=CircuitState.OPEN, probe_at__lte=now) | Q(
        state=CircuitState.HALF_OPEN, probe_until__lt=now
    )
    probe_until = now + timedelta(seconds=step.attempt_timeout + conf.get("LEASE_GRACE"))
    if Circuit.objects.filter(probe_due, pk=circuit.pk).update(
        state=CircuitState.HALF_OPEN, probe_process=process.pk, probe_until=probe_until, updated_at=now
    ):
        tries = f"{breaker.process_name(process)} tries the service"
        breaker.event(circuit, CircuitEventKind.PROBE, tries, now)
        journal.note(process, EventKind.CIRCUIT, f"{step.name}: goes through as the circuit's probe")
        return PROBE
    return _hold_under_lock(process, step, circuit, now)


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
        return admit(process, step, now)
    breaker.hold(process, circuit, _look_again_at(circuit, step, now), now)
    return HELD


def call_failed(process, step: Step, *, probe: bool, error: BaseException, now: datetime) -> bool:
    """A call at `step` failed the way a sick service fails. True when the circuit is (now)
    open: the process is then held and the attempt does not count against its retries."""
    policy = step.circuit
    label = process.label()
    circuit = Circuit.objects.filter(process_type=label, step=step.name).first()
    step_aside = timedelta(0)
    if probe and circuit and circuit.probe_process == process.pk and circuit.state == CircuitState.HALF_OPEN:
        circuit = breaker.lock(label, step.name)
        if circuit.state == CircuitState.HALF_OPEN and circuit.probe_process == process.pk:
            why = f"the probe failed: {breaker.describe_error(error)}"
            breaker.open_circuit(circuit, policy, why, now, reopen=True)
            # The failure may be this process's own (a card whose issuer never answers): it
            # looks again a little after the next probe, so that another process probes then.
            step_aside = timedelta(seconds=step.attempt_timeout / 10)
    elif circuit is None or circuit.state == CircuitState.CLOSED:
        closed_at = circuit.closed_at if circuit else None
        failures, attempts, failing = window(label, step.name, policy, now, since=closed_at)
        if attempts < policy.min_attempts or failing < _processes_needed(process, step):
            return False
        if failures < policy.failure_share * attempts:
            return False
        circuit = breaker.lock(label, step.name)
        if circuit.state == CircuitState.CLOSED:
            why = f"{failures} of the last {attempts} attempts failed; last: {breaker.describe_error(error)}"
            if circuit.close_alert_at is not None:  # closed too shortly to call the incident over
                closed = (now - circuit.closed_at).total_seconds()
                why = f"{why} ({closed:.0f}s after it closed: the same incident)"
                circuit.close_alert_at = None
                breaker.open_circuit(circuit, policy, why, now, reopen=True)
            else:
                breaker.open_circuit(circuit, policy, why, now)
    else:
        circuit = breaker.lock(label, step.name)  # decide on what it is now, as in _hold_under_lock
    if circuit.state == CircuitState.CLOSED:
        return False  # closed meanwhile: an ordinary failure, retried as the step's policy says
    process.attempts = max(process.attempts - 1, 0)  # the outage is known: not this process's failure
    process.last_error = breaker.describe_error(error)
    state = circuit.get_state_display().lower()
    journal.note(
        process,
        EventKind.CIRCUIT,
        f"{step.name} failed ({process.last_error}) while its circuit is {state}: the attempt does not count",
    )
    breaker.hold(process, circuit, _look_again_at(circuit, step, now) + step_aside, now)
    return True


def _processes_needed(process, step: Step) -> int:
    """How many failing processes the window needs before the circuit opens. A process whose
    retries this failure uses up asks with a lower bar (itself and one other): at the start of
    an outage its quick retries can outrun the orders arriving behind it, and it is better to
    open the circuit on two orders than to undo one order for an outage."""
    policy = step.retry if process.direction == "forward" else step.undo_retry
    if process.attempts >= policy.max_attempts:
        return min(step.circuit.min_processes, 2)
    return step.circuit.min_processes


def probe_answered(process, step: Step, now: datetime) -> None:
    """The probe got an answer from the service (a success, or a refusal such as a decline):
    the service is back, so the circuit closes and the held processes may go."""
    circuit = breaker.lock(process.label(), step.name)
    if circuit.state == CircuitState.HALF_OPEN and circuit.probe_process == process.pk:
        why = f"the probe by {breaker.process_name(process)} succeeded"
        breaker.close_circuit(circuit, CircuitEventKind.CLOSED, why, now, actor="")


def is_service_failure(step: Step, direction: str, error: BaseException | None) -> bool:
    """What a circuit counts: an error raised by the call that its policy would retry
    (unavailable, an ambiguous timeout, an unknown error); never a refusal like a decline."""
    if error is None or step.circuit is None:
        return False
    policy = step.retry if direction == "forward" else step.undo_retry
    return not policy.is_permanent(error)


def _look_again_at(circuit: Circuit, step: Step, now: datetime) -> datetime:
    """When a process held by this circuit should look again: at the next probe, at the end of
    the probe in flight, at the end of the pause; never later than PAUSE_RECHECK from now."""
    when = {
        CircuitState.OPEN: circuit.probe_at,
        CircuitState.HALF_OPEN: circuit.probe_until,
        CircuitState.PAUSED: circuit.paused_until,
    }.get(circuit.state)
    recheck = now + timedelta(seconds=conf.get("PAUSE_RECHECK"))
    if when is None or when > recheck:
        return recheck
    return max(when, now + timedelta(seconds=step.attempt_timeout / 10))
