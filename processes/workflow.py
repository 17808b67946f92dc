"""Declare a workflow: its steps in order, each with action, compensation and retry policy.

A domain app subclasses `Step` (or `WaitStep` for a person's task) and lists the steps in a
`Workflow`; the engine (processes.runner) does the rest. A step is split where the engine
must split it: `call` talks to another service outside any transaction, `record` applies the
result under the process row's lock and makes the FSM transition.

The policies a step declares (`RetryPolicy`, `CircuitPolicy`, `ServiceLimit`, `OnExhausted`)
live in processes.policies and are importable from here too: with `Step`, `WaitStep` and
`Workflow` they are the API a domain declares its workflow with. The engine's own modules
import them from processes.policies.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from processes.effects import Effect
from processes.exceptions import OwnTransientError
from processes.policies import (  # also the API a domain declares its steps with (docstring)
    COMPENSATION_RETRY,
    CircuitPolicy,
    OnExhausted,
    RetryPolicy,
    ServiceLimit,
)


class Blame:
    """Whom a failed call points at: the service it called, or the process it was made for."""

    SERVICE = "service"  # the service is unwell (unavailable, a timeout, an unknown error)
    PROCESS = "process"  # the service answered; the failure is this process's own


@dataclass(frozen=True)
class StepContext:
    """What a step's code gets besides the process: which attempt this is and its key."""

    process_label: str
    process_id: Any
    step: str
    direction: str
    attempt: int
    idempotency_key: str
    forward_key: str
    attempt_timeout: float


class Step:
    """One automatic step. Override `call` for an external effect and `record` to apply it.

    `call(process, ctx)` runs outside any transaction and must pass `ctx.idempotency_key` to
    the service; it returns a result or raises (processes.exceptions). `record(process, result,
    ctx)` runs inside the transaction that holds the process row locked; it writes the domain
    rows and makes the transition. A step is compensable when it overrides `undo_call` and/or
    `undo_record`; undoing must tolerate a forward effect that never happened.
    """

    name: str = ""
    retry: RetryPolicy = RetryPolicy()
    undo_retry: RetryPolicy = COMPENSATION_RETRY
    attempt_timeout: float = 30.0
    deadline: timedelta | None = None
    # Expected time in this step, used to call a process "stuck" (see issue on operator console).
    expected_duration: timedelta = timedelta(minutes=5)
    # The step's circuit breaker (processes.flow), for a step that calls a service; None: none.
    circuit: "CircuitPolicy | None" = None
    # A limit its service publishes (processes.flow.limits); None: none. May be a property that
    # reads the deployment's settings.
    limit: "ServiceLimit | None" = None
    # Errors of the step's service that belong to one process (beside the retry policy's
    # permanent errors and OwnTransientError), for a client library whose exceptions cannot
    # say so themselves: they never count against the service's health.
    own_errors: tuple[type[BaseException], ...] = ()
    # What an operator enters to do the step by hand (processes.interventions.process_skip_step),
    # as {name: factory of the form field that asks for it}; `manual_result` checks it.
    manual_fields: "dict[str, Callable[[], Any]]" = {}
    # Whether what an operator enters is one process's own (a charge id, a tracking number): the
    # step is then done by hand for one process at a time, never for several at once.
    manual_one_at_a_time: bool = False
    # Whether the step's service keeps its own record of what the step did, which the domain
    # reconciles with ours (a gateway's charges, a carrier's labels): while the step is in flight
    # the two may differ by a call whose answer was lost, until its retry records it.
    reconciled: bool = False
    # What the waiting sentence (processes.waiting_reason) calls the service the step calls, for
    # operators and clients alike: "the carrier", "the payment gateway".
    service: str = "its service"
    # The process's transition back to the state it had before the step, made once the step is
    # undone to be done again (processes.redo): for a call step, after its undo; for a wait step
    # an operator takes the process back over, after its task is withdrawn. '' (the default):
    # the step is never redone, nor stepped back over.
    undone_transition: str = ""

    @property
    def title(self) -> str:
        """What the console calls the step: its name in words, unless the step sets its own
        `title` (a class attribute is enough)."""
        return self.name.replace("_", " ")

    def recorded_words(self, direction: str) -> str:
        """What the journal says for the transition a successful attempt's record (or undo
        record) makes: the step done, or undone."""
        return f"{self.name} done" if direction == "forward" else f"{self.name} undone"

    def attempt_title(self, direction: str, number: int) -> str:
        """What the console calls one of the step's attempts in the journal."""
        undo = "undo " if direction != "forward" else ""
        return f"{undo}{self.name} attempt {number}"

    def call(self, process, ctx: StepContext) -> Any:
        return None

    def record(self, process, result, ctx: StepContext) -> None:
        raise NotImplementedError(f"Step {self.name!r} must define record()")

    def undo_call(self, process, ctx: StepContext) -> Any:
        return None

    def undo_record(self, process, result, ctx: StepContext) -> None:
        return None

    def undo_preview(self, process) -> "list[Effect]":
        """What undoing the step would give back now (processes.effects), for a bulk
        operation's preview; read from what the step recorded, without a call. By default
        nothing worth counting."""
        return []

    def not_done_preview(self, process) -> "list[Effect]":
        """What will not happen if the process is undone before this step is done."""
        return []

    def manual_result(self, process, entered: dict) -> Any:
        """The result `record` expects, from what an operator `entered` to do the step by hand.

        Raise ManualResultRefused, saying what is missing, when it will not do. By default the
        step needs nothing entered (its `record` writes only our own rows).
        """
        return None

    def flow_key(self, process) -> str:
        """The key under which the step's service health, circuit and limits are kept: a
        carrier account, a warehouse, an API client, so that one broken account holds only its
        own processes. Read under the process row's lock; '' (the default) keeps one for all."""
        return ""

    def blame(self, error: BaseException, direction: str) -> str:
        """Whom a failed call points at (`Blame`). A refusal (the retry policy's permanent
        errors), an OwnTransientError and the step's `own_errors` are the process's own: the
        service answered. Anything else (unavailable, a timeout, an unknown error) is the
        service's. Override it to decide on more than the error's class (a status code)."""
        policy = self.retry if direction == "forward" else self.undo_retry
        own = (OwnTransientError, *self.own_errors)
        if policy.is_permanent(error) or isinstance(error, own):
            return Blame.PROCESS
        return Blame.SERVICE

    @property
    def calls_out(self) -> bool:
        return type(self).call is not Step.call

    @property
    def undo_calls_out(self) -> bool:
        return type(self).undo_call is not Step.undo_call

    @property
    def compensable(self) -> bool:
        return self.undo_calls_out or type(self).undo_record is not Step.undo_record

    def __repr__(self):
        return f"<{type(self).__name__} {self.name}>"


@dataclass(frozen=True)
class PersonTask:
    """A wait step's task as its domain sees it, for the waiting sentence
    (processes.waiting_reason): when it opened, who holds it ('' while nobody does) and since
    when, and the timers still to fire ({name: when})."""

    opened_at: datetime
    holder: str = ""
    claimed_at: datetime | None = None
    timers: dict = field(default_factory=dict)


class WaitStep(Step):
    """A step done by a person: `record` opens the task, then the process waits.

    It resumes when `processes.control.process_signal()` delivers the person's answer
    (handled by `on_signal` under the row lock), or when `timeout` passes, after which
    `on_timeout` says whether to compensate or raise needs-attention. A person may also
    report that the step cannot be done (`process_wait_failed`), handled by `on_problem`.
    Named timers (`timers`/`on_timer`) fire reminders and escalations before the deadline.
    """

    timeout: timedelta = timedelta(hours=4)
    on_timeout: str = OnExhausted.NEEDS_ATTENTION
    on_problem: str = OnExhausted.NEEDS_ATTENTION
    # Why an operator cannot do the step by hand before the process waits: done by hand, a
    # wait step takes the operator's answer as its person's (`on_signal`), so only once the
    # person's task is open. The domain's interface shows and raises it.
    manual_before_waiting: str = "its task is not open yet"
    # Whom the process waits for, in the waiting sentence: for operators, and for a client.
    waiting_for: str = "a person to do its task"
    client_waiting_for: str = "a person to do its task"
    # What each of `timers` does, in words: {name: "the shift lead is warned"}.
    timer_titles: "dict[str, str]" = {}

    def person_task(self, process) -> PersonTask | None:
        """The person's task for the waiting sentence, or None when it is not open. Read for
        every row of a page: read what the page's query loaded with the process, not more."""
        return None

    # What the journal calls the person's task and the person: the step's attempt only opens
    # the task ("pick task opened, waiting for a worker"); the person's answer says what was done.
    task_name: str = "task"
    person: str = "a person"

    def recorded_words(self, direction: str) -> str:
        if direction == "forward":
            return f"{self.task_name} opened, waiting for {self.person}"
        return super().recorded_words(direction)

    def attempt_title(self, direction: str, number: int) -> str:
        if direction == "forward":
            return f"open {self.task_name} (attempt {number})"
        return super().attempt_title(direction, number)

    def on_signal(self, process, payload: dict, ctx: StepContext) -> None:
        raise NotImplementedError(f"Wait step {self.name!r} must define on_signal()")

    def settled(self, process) -> bool:
        """Whether `record` settled the step without a person (a rule approved it), read just
        after it: the process then goes on at once instead of waiting. False by default."""
        return False

    def timers(self, process) -> dict:
        """Named timers still to fire, {name: datetime or None}; read under the row lock.

        A timer that fired must no longer be returned (the domain records that it fired),
        or it fires again at every wake-up.
        """
        return {}

    def on_timer(self, process, name: str, ctx: StepContext) -> None:
        """Handle a due timer under the row lock (flag, release a claim, alert after commit)."""

    def withdraw_refusal(self, process) -> str:
        """Why its person's task may not be withdrawn now, to redo the step before it
        (processes.redo): '' when it may (nobody took it up). Read under the row lock; the task
        is then withdrawn by `undo_record` and the step's `undone_transition`."""
        return ""

    def on_resolved(self, process, ctx: StepContext) -> None:
        """An operator resolved needs-attention while the process waits here, so it waits for its
        person again: settle under the row lock whatever held the person's task back (a problem
        the person reported)."""


@dataclass
class Workflow:
    """A named, versioned sequence of steps run over one process model.

    `begin_compensation` and `finish_compensation` name the model's FSM transitions the
    engine calls when the process must be undone and when undoing is complete.
    """

    name: str
    model: str
    steps: list[Step]
    version: int = 1
    begin_compensation: str = "start_compensation"
    finish_compensation: str = "mark_cancelled"
    # Optional handler of messages delivered to a process (processes.inbox): called under the
    # row lock as on_message(process, message); returns True when it consumed the message.
    on_message: Callable | None = None
    # How a process of an older version moves onto this one (processes.versions): for each
    # older version, {state the process is in: step of this version it continues at}. A state
    # left out is not a safe point: a process there stays on its version.
    migrates_from: dict[int, dict[str, str]] = field(default_factory=dict)
    _by_name: dict = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self):
        for step in self.steps:
            if not step.name or step.name in self._by_name:
                raise ValueError(f"Workflow {self.name!r}: step names must be unique and set ({step!r})")
            self._by_name[step.name] = step
        for version, mapping in self.migrates_from.items():
            unknown = sorted(set(mapping.values()) - set(self._by_name))
            if version >= self.version or unknown:
                raise ValueError(
                    f"Workflow {self.name!r} v{self.version}: migrates_from[{version}] must name an older "
                    f"version and steps of this one (unknown: {unknown})"
                )

    def step(self, name: str) -> Step:
        try:
            return self._by_name[name]
        except KeyError:
            raise LookupError(f"Workflow {self.name!r} has no step {name!r}") from None

    def step_names(self) -> list[str]:
        return [step.name for step in self.steps]

    def first(self) -> Step:
        return self.steps[0]

    def after(self, name: str) -> Step | None:
        index = self.steps.index(self.step(name))
        return self.steps[index + 1] if index + 1 < len(self.steps) else None

    def model_class(self):
        from django.apps import apps

        return apps.get_model(self.model)


class Registry:
    """Workflows by (process model label, version): how the engine finds a domain's workflow.

    A model may have several versions registered at once: each process runs to its end on the
    version it started with (`Process.workflow_version`), so the engine always looks a workflow
    up by the process's label *and* version; only a new process asks for `newest()`.
    """

    def __init__(self):
        self._workflows: dict[tuple[str, int], Workflow] = {}

    def register(self, workflow: Workflow) -> Workflow:
        key = (workflow.model.lower(), workflow.version)
        known = self._workflows.get(key)
        if known is not None and known is not workflow:
            raise ValueError(f"Workflow {workflow.model} v{workflow.version} is registered twice")
        self._workflows[key] = workflow
        return workflow

    def for_model(self, label: str, version: int) -> Workflow:
        try:
            return self._workflows[(label.lower(), version)]
        except KeyError:
            known = ", ".join(f"v{v}" for v in self.versions(label)) or "none"
            raise LookupError(
                f"No workflow v{version} registered for {label!r} (registered: {known})"
            ) from None

    def for_process(self, process) -> Workflow:
        """The workflow version this process started on (or was migrated to)."""
        return self.for_model(process.label(), process.workflow_version)

    def versions(self, label: str) -> list[int]:
        return sorted(version for model, version in self._workflows if model == label.lower())

    def newest(self, label: str) -> Workflow:
        versions = self.versions(label)
        if not versions:
            raise LookupError(f"No workflow registered for {label!r}")
        return self.for_model(label, versions[-1])

    def model_class(self, label: str):
        return self.newest(label).model_class()

    def labels(self) -> list[str]:
        return sorted({model for model, _ in self._workflows})

    def all(self) -> list[Workflow]:
        return [self._workflows[key] for key in sorted(self._workflows)]


registry = Registry()
