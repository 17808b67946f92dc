"""Why a process that is not finished waits, what happens next and when: one sentence.

Every page that shows a process (the list, its page, the dashboard) and the client API read
the same `Waiting`, computed here from what the engine knows: the process row, its step's
policies, the circuit that holds it and, at a wait step, the person's task as the domain
describes it (`WaitStep.person_task`, the only fact the engine cannot read itself). Two
audiences read it: operators get every fact (the last error, who holds the task, the incident's
page); a client gets the same case in words without operator names or internal error text.

The cases are tried in the order that decides what happens next: a person must act
(attention), a worker is on it now, a circuit or a limit holds it, it is being undone, a person
has its task, it backs off after a failure, it is due and queued, or it is scheduled later.
A page of processes reads the circuits that hold any of them in one query (`circuits_for`),
so a list's cost does not grow with its rows.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.urls import NoReverseMatch, reverse

from processes import clock, leases
from processes.models.flow import Circuit, CircuitState, where
from processes.models.process import Direction, Hold, RunStatus
from processes.workflow import Step, WaitStep, registry


class Case:
    """Why a process waits, in one word a test or a page can branch on."""

    ATTENTION = "attention"
    RUNNING = "running"
    HELD = "held"  # its circuit is open or probing
    PAUSED = "paused"  # an operator paused its step
    RELEASING = "releasing"  # its circuit closed; it goes in its slot
    PACED = "paced"
    LIMITED = "limited"
    COMPENSATING = "compensating"
    PERSON = "person"
    BACKING_OFF = "backing_off"
    QUEUED = "queued"
    SCHEDULED = "scheduled"


@dataclass(frozen=True)
class Waiting:
    """One process's waiting sentence for operators (`reason`) and for a client
    (`client_reason`), with when the next thing happens (`next_at`, or None when only a person
    can move it) and, for a process held at its step, the step's incident page (`url`)."""

    case: str
    reason: str
    client_reason: str
    next_at: datetime | None
    client_next_at: datetime | None
    since: datetime | None = None
    url: str = ""


def circuits_for(processes: Iterable) -> dict[tuple[str, str, str], Circuit]:
    """The circuits holding any of these processes, by (label, step, key), in one query (none
    when no process is held by a circuit)."""
    wanted = {(p.label(), p.step, p.held_key) for p in processes if p.held_by == Hold.CIRCUIT}
    if not wanted:
        return {}
    labels, steps, keys = (set(column) for column in zip(*wanted, strict=True))
    found = Circuit.objects.filter(process_type__in=labels, step__in=steps, key__in=keys)
    return {(c.process_type, c.step, c.key): c for c in found}


def waiting_reason(process, *, now: datetime | None = None, circuits: dict | None = None) -> Waiting | None:
    """Why the process waits, what happens next and when; None when it is finished.

    `circuits` is `circuits_for` a page of processes; without it a held process reads its own."""
    if process.run_status == RunStatus.FINISHED:
        return None
    now = now or clock.now()
    step = _step(process)
    if process.needs_attention:
        return _attention(process)
    if leases.held(process, now):
        return _running(process, step)
    if process.held_by == Hold.CIRCUIT:
        if circuits is None:
            circuits = circuits_for([process])
        return _held(process, step, circuits.get((process.label(), process.step, process.held_key)), now)
    if process.held_by in (Hold.PACE, Hold.LIMIT):
        return _paced(process, step)
    if process.direction == Direction.COMPENSATE:
        return _compensating(process, step, now)
    if process.run_status == RunStatus.WAITING and isinstance(step, WaitStep):
        return _person(process, step, now)
    if process.attempts and process.last_error and process.next_run_at and process.next_run_at > now:
        return _backing_off(process, step)
    return _due(process, step, now)


def _step(process) -> Step | None:
    if not process.step:
        return None
    try:
        return registry.for_process(process).step(process.step)
    except LookupError:
        return None


def _attention(process) -> Waiting:
    since = process.attention_since or process.updated_at
    return Waiting(
        Case.ATTENTION,
        f"Needs attention since {at(since)}: {process.attention_reason or 'no reason recorded'}. "
        "Nothing happens until an operator acts.",
        f"Held for a person on our side to look at, since {at(since)}; nothing happens until they act.",
        None,
        None,
        since=since,
    )


def _running(process, step: Step | None) -> Waiting:
    what = _what(process, step)
    return Waiting(
        Case.RUNNING,
        f"A worker is running {what} now (attempt {process.attempts}{_of(process, step)}); "
        f"its answer is due by {at(process.lease_until)}.",
        f"Being worked on now: {what}.",
        process.lease_until,
        process.lease_until,
    )


def _held(process, step: Step | None, circuit: Circuit | None, now: datetime) -> Waiting:
    service, place = _service(step), where(process.step, process.held_key)
    url = incident_url(process.label(), process.step, process.held_key)
    since = circuit.incident_since if circuit and circuit.incident_since else process.held_since
    if circuit is None or circuit.state == CircuitState.CLOSED:
        return Waiting(
            Case.RELEASING,
            f"The circuit of {service} ({place}) has closed: it goes on at {at(process.next_run_at)}, "
            "one held order after another.",
            f"{_cap(service)} is back: it goes on at {at(process.next_run_at)}.",
            process.next_run_at,
            process.next_run_at,
            since=since,
            url=url,
        )
    if circuit.state == CircuitState.PAUSED:
        until = "until an operator resumes it"
        if circuit.paused_until:
            until = f"until {at(circuit.paused_until)}"
        return Waiting(
            Case.PAUSED,
            f"Paused by {circuit.paused_by or 'an operator'} at {place} since {at(since)}, {until}: "
            f"{circuit.reason}. No attempts are spent.",
            f"Paused on our side at {_title(step)} since {at(since)}, {until.replace('an operator', 'we')}.",
            circuit.paused_until,
            circuit.paused_until,
            since=since,
            url=url,
        )
    if circuit.state == CircuitState.OPEN:
        nxt = circuit.probe_at
        then = f"the next probe is at {at(nxt)}" if nxt else "a probe goes when it cools down"
    else:
        nxt = process.next_run_at
        then = "a probe is trying the service now; it goes when one gets an answer"
    return Waiting(
        Case.HELD,
        f"Held by the circuit of {service} ({place}): open since {at(since)}; {then}. No attempts are spent.",
        f"Waiting: {service} is unavailable since {at(since)}; "
        f"{'we try it again at ' + at(nxt) if nxt else 'we try it again shortly'}. Nothing is lost.",
        nxt,
        nxt,
        since=since,
        url=url,
    )


def _paced(process, step: Step | None) -> Waiting:
    service, place = _service(step), where(process.step, process.held_key)
    limit = getattr(step, "limit", None) if step else None
    why = (
        f"{service} is slowed: calls go at a reduced rate"
        if process.held_by == Hold.PACE
        else f"{service}'s published limit ({limit or 'its limit'}) is reached"
    )
    return Waiting(
        Case.PACED if process.held_by == Hold.PACE else Case.LIMITED,
        f"Waiting its turn at {place} since {at(process.held_since)}: {why}; its turn comes at "
        f"{at(process.next_run_at)}. No attempts are spent.",
        f"Waiting its turn at {service}; it goes at {at(process.next_run_at)}.",
        process.next_run_at,
        process.next_run_at,
        since=process.held_since,
        url=incident_url(process.label(), process.step, process.held_key),
    )


def _compensating(process, step: Step | None, now: datetime) -> Waiting:
    undo = f"undo of {_title(step)}"
    failed = ""
    if process.attempts and process.last_error:
        failed = f" after attempt {process.attempts}{_of(process, step)} failed ({process.last_error})"
    when = "now, waiting for a free worker" if _due_now(process, now) else f"at {at(process.next_run_at)}"
    return Waiting(
        Case.COMPENSATING,
        f"Being undone: the next undo is the {undo}, {when}{failed}.",
        f"Being cancelled: undoing {_title(step)} next, {when}.",
        process.next_run_at,
        process.next_run_at,
    )


def _person(process, step: WaitStep, now: datetime) -> Waiting:
    task = step.person_task(process)
    deadline = f"; it must be done by {at(process.deadline_at)}" if process.deadline_at else ""
    if task is None:
        held = "its task is not open"
    elif task.holder:
        held = f"claimed by {task.holder} {_ago(now - task.claimed_at)} ago"
    else:
        held = f"unclaimed for {_ago(now - task.opened_at)}"
    timers = sorted((when, name) for name, when in (task.timers if task else {}).items() if when)
    nxt = ""
    if timers:
        first, name = timers[0]
        nxt = f"; next: {step.timer_titles.get(name, name)} at {at(first)}"
    return Waiting(
        Case.PERSON,
        f"Waiting for {step.waiting_for}: the task is {held}{nxt}{deadline}.",
        f"Waiting for {step.client_waiting_for}{deadline}.",
        process.next_run_at,
        process.deadline_at,
        since=task.opened_at if task else None,
    )


def _backing_off(process, step: Step | None) -> Waiting:
    what, of = _what(process, step), _of(process, step)
    return Waiting(
        Case.BACKING_OFF,
        f"Backing off after a failure: attempt {process.attempts}{of} of {what} failed "
        f"({process.last_error}); the next attempt is at {at(process.next_run_at)}{_deadline(process)}.",
        f"Retrying {what} after a temporary failure (attempt {process.attempts}{of}); "
        f"the next attempt is at {at(process.next_run_at)}.",
        process.next_run_at,
        process.next_run_at,
    )


def _due(process, step: Step | None, now: datetime) -> Waiting:
    what = _what(process, step)
    if _due_now(process, now):
        since = process.next_run_at or process.updated_at
        return Waiting(
            Case.QUEUED,
            f"Queued: {what} has been due since {at(since)}, waiting for a free worker.",
            f"Queued: {what} starts as soon as a worker is free.",
            since,
            since,
            since=since,
        )
    return Waiting(
        Case.SCHEDULED,
        f"Scheduled: {what} runs at {at(process.next_run_at)}{_deadline(process)}.",
        f"Scheduled: {what} runs at {at(process.next_run_at)}.",
        process.next_run_at,
        process.next_run_at,
    )


def incident_url(label: str, step: str, key: str = "") -> str:
    """The admin page of the step's incident (circuit, health, held processes), or ''."""
    try:
        url = reverse("admin:processes_circuit_step", args=[label, step])
    except NoReverseMatch:
        return ""
    return f"{url}?key={key}" if key else url


def at(moment: datetime | None) -> str:
    """A time as every sentence here gives it: UTC, to the second, with its date when not today."""
    if moment is None:
        return "an unknown time"
    moment = moment.astimezone(clock.now().tzinfo)
    if moment.date() == clock.now().date():
        return f"{moment:%H:%M:%S} UTC"
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _due_now(process, now: datetime) -> bool:
    return process.next_run_at is None or process.next_run_at <= now


def _what(process, step: Step | None) -> str:
    if process.direction == Direction.REDO:
        return f"the undo of {_title(step)} (to do it again)"
    return _title(step) if step else "its first step"


def _title(step: Step | None) -> str:
    return step.title if step else "its step"


def _service(step: Step | None) -> str:
    return step.service if step else "its service"


def _cap(words: str) -> str:
    return words[:1].upper() + words[1:]


def _of(process, step: Step | None) -> str:
    if step is None:
        return ""
    policy = step.retry if process.direction == Direction.FORWARD else step.undo_retry
    return f" of {policy.max_attempts}"


def _deadline(process) -> str:
    return f" (deadline {at(process.deadline_at)})" if process.deadline_at else ""


def _ago(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"
