"""Write the journal: who did what to a process, when, and why.

Transitions are captured from django-fsm's `post_transition` signal into a buffer on the
instance and written when the row is saved (its `post_save`), in the same transaction, so a
transition that is saved is always journalled and one that is rolled back never is. The
journal listens to the process row; the row knows nothing of the journal. The actor and the reason come
from `acting()`, which the engine and the domain's services set around their work.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from processes import clock
from processes.models.journal import ActorType, EventKind, ProcessEvent
from processes.models.process import Process


@dataclass(frozen=True)
class Actor:
    type: str = ActorType.SYSTEM
    name: str = ""

    @classmethod
    def system(cls, name: str = "engine") -> "Actor":
        return cls(ActorType.SYSTEM, name)


@dataclass(frozen=True)
class _Context:
    actor: Actor
    reason: str
    step: str


_DEFAULT = _Context(Actor.system(), "", "")
_context: ContextVar[_Context | None] = ContextVar("processes_journal_context", default=None)


def _current() -> _Context:
    return _context.get() or _DEFAULT


@contextmanager
def acting(actor: Actor, reason: str = "", step: str = ""):
    """Attribute the transitions made inside the block to `actor`, with `reason`."""
    token = _context.set(_Context(actor, reason, step))
    try:
        yield
    finally:
        _context.reset(token)


@contextmanager
def because(reason: str, step: str = ""):
    """Give the transitions inside the block a reason, keeping the current actor."""
    token = _context.set(_Context(_current().actor, reason, step))
    try:
        yield
    finally:
        _context.reset(token)


def on_post_transition(sender, instance, name, source, target, **kwargs):
    """Buffer a journal event for a transition of a process (connected in apps.ready)."""
    if not isinstance(instance, Process):
        return
    ctx = _current()
    event = _event(
        instance, EventKind.TRANSITION, ctx.reason or f"transition {name}", ctx.actor, step=ctx.step
    )
    event.from_state, event.to_state, event.transition = source, target, name
    instance.state_changed_at = event.created_at
    _buffer(instance).append(event)


def on_post_save(sender, instance, created, raw, using, **kwargs):
    """Write a saved process's buffered events, in the transaction of its save (connected in
    apps.ready). A row loaded from a fixture (`raw`) is written as it is, with no event."""
    if isinstance(instance, Process) and not raw:
        flush(instance, created=created, using=using)


def note(process, kind: str, reason: str, *, actor: Actor | None = None, step: str = "") -> None:
    """Buffer a non-transition event (retry scheduled, attention raised, ...) for the next save."""
    ctx = _current()
    event = _event(process, kind, reason, actor or ctx.actor, step=step or process.step)
    event.from_state = event.to_state = process.state
    _buffer(process).append(event)


def flush(process, *, created: bool, using=None) -> None:
    """Write the buffered events; a newly created process first gets its creation event."""
    events = _buffer(process)
    if created:
        ctx = _current()
        first = _event(process, EventKind.TRANSITION, ctx.reason or "created", ctx.actor)
        first.to_state, first.transition = process.state, "create"
        events.insert(0, first)
    if events:
        ProcessEvent.objects.using(using).bulk_create(events)
        events.clear()


def take(process) -> list:
    """Hand the buffered events over to a writer that saves them with the row in one statement
    (processes.step_writes), emptying the buffer; the row's post_save then finds none to write."""
    events = list(_buffer(process))
    _buffer(process).clear()
    return events


def pending(process) -> int:
    """How many events wait in the buffer: lets a caller drop those of a rolled-back block."""
    return len(_buffer(process))


def discard_since(process, mark: int) -> None:
    del _buffer(process)[mark:]


def _event(process, kind, reason, actor, step="") -> ProcessEvent:
    return ProcessEvent(
        process_type=process.label(),
        process_id=process.pk,
        kind=kind,
        step=step,
        actor_type=actor.type,
        actor=actor.name,
        reason=reason,
        created_at=clock.now(),
    )


def _buffer(process) -> list:
    if "_journal_buffer" not in process.__dict__:
        process.__dict__["_journal_buffer"] = []
    return process.__dict__["_journal_buffer"]
