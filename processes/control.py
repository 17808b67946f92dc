"""The engine's runtime operations: start a process, deliver a person's answer or problem.

Operator interventions (retry, compensate, skip, resolve) live in processes.interventions.

Each locks the process row first, checks that the operation is allowed in the current state,
changes it, saves (journal included) and sends the wake-up with the commit, in one transaction.
"""

from django.db import transaction

from processes import attention, clock, failures, journal, progress
from processes.attempts import context_for
from processes.exceptions import ProcessStateError
from processes.journal import Actor
from processes.models.process import RunStatus
from processes.wakeup import wake_on_commit
from processes.workflow import registry


def process_start(
    *, process, actor: Actor, reason: str = "created", rollout_key: str = "", version: int | None = None
) -> None:
    """Save a new process and make its first step due; call inside the creating transaction.

    The process starts on `version` if given, else on the version the rollout picks for
    `rollout_key` (processes.versions.version_for_new), and keeps it to its end.
    """
    from processes.versions import version_for_new

    label = process.label()
    version = version or version_for_new(label=label, key=rollout_key)
    workflow = registry.for_model(label, version)
    with journal.acting(actor, reason):
        progress.start(workflow, process, clock.now())
        wake_on_commit(process)
        process.save()


def process_signal(*, model, process_id, step: str, payload: dict, actor: Actor, reason: str):
    """Deliver a person's answer to a waiting step; the next step runs right after commit."""
    with transaction.atomic(), journal.acting(actor, reason, step=step):
        process = _lock_waiting(model, process_id, step)
        _answer(process, step, payload, reason)
        process.save()
        return process


def process_answer_locked(process, *, step: str, payload: dict, reason: str) -> bool:
    """Deliver an answer to a process the caller holds locked (and saves), if it waits on
    `step`; False, changing nothing, if it does not. For a workflow's `on_message` handler
    (processes.inbox): an event from outside that answers a wait, in the delivery's transaction."""
    if process.run_status != RunStatus.WAITING or process.step != step:
        return False
    with journal.because(reason, step=step):
        _answer(process, step, payload, reason)
    return True


def _answer(process, step: str, payload: dict, reason: str) -> None:
    workflow = registry.for_process(process)
    current = workflow.step(step)
    current.on_signal(process, payload, context_for(process, current))
    if process.needs_attention and process.attention_step == step:
        attention.clear_attention(process, f"{step} done after all: {reason}")
    progress.complete_forward(workflow, process, current, clock.now())
    if process.needs_attention:
        process.next_run_at = None  # flagged from outside: stop here until an operator acts
    else:
        wake_on_commit(process)


def process_wait_failed(*, model, process_id, step: str, actor: Actor, reason: str):
    """A person reports that the waited-for step cannot be done: follow the step's `on_problem`."""
    with transaction.atomic(), journal.acting(actor, reason, step=step):
        process = _lock_waiting(model, process_id, step)
        workflow = registry.for_process(process)
        current = workflow.step(step)
        failures.give_up(workflow, process, current, reason=reason, then=current.on_problem, now=clock.now())
        wake_on_commit(process)
        process.save()
        return process


def process_rearm(*, process) -> None:
    """Recompute a waiting process's next wake-up after its domain rows changed (a claim, a
    release). Call under the process row's lock; the caller saves."""
    workflow = registry.for_process(process)
    if process.run_status == RunStatus.WAITING and not process.needs_attention:
        progress.rearm(process, workflow.step(process.step))


def _lock_waiting(model, process_id, step):
    process = model.objects.select_for_update().get(pk=process_id)
    if process.run_status != RunStatus.WAITING or process.step != step:
        raise ProcessStateError(f"{model.__name__} {process_id} is not waiting on {step!r}.")
    return process
