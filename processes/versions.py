"""Workflow versions: which version a new process starts on, and moving one between versions.

A process keeps the version it started with to its end (`Process.workflow_version`). A new
one starts on the newest version when its key falls in the rollout's share (RolloutSetting),
else on the version before. The bucket is a hash of the key, so the same customer always
lands in the same bucket, and raising the share only moves customers from old to new.

An operator may move an in-flight process onto another version at a safe point: the target
version declares, per older version, the states it accepts and the step each continues at
(`Workflow.migrates_from`); any other state is refused with the reason.
"""

import hashlib
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count

from processes import clock, journal, leases, progress, refusals
from processes.journal import Actor
from processes.models.journal import EventKind, StepAttempt
from processes.models.process import Direction, RunStatus
from processes.models.rollout import RolloutSetting
from processes.refusals import Refusal
from processes.wakeup import wake_on_commit
from processes.workflow import Workflow, registry

BUCKETS = 10_000


def rollout_bucket(*, label: str, key: str) -> float:
    """The key's place in [0, 100): the same key and workflow always give the same number."""
    digest = hashlib.sha256(f"{label.lower()}:{key.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS * 100 / BUCKETS


def rollout_percent(label: str) -> int:
    setting = RolloutSetting.objects.filter(workflow=label.lower()).values_list("percent", flat=True).first()
    return setting or 0


def version_for_new(*, label: str, key: str) -> int:
    """The version a new process with this rollout key starts on."""
    versions = registry.versions(label)
    if not versions:
        raise LookupError(f"No workflow registered for {label!r}")
    if len(versions) == 1:
        return versions[0]
    if rollout_bucket(label=label, key=key) < rollout_percent(label):
        return versions[-1]
    return versions[-2]


def process_migrate_version(*, model, process_id, to_version: int, actor: Actor, reason: str):
    """Move an in-flight process onto `to_version` at a safe point, by the version's mapping.

    Refused (ProcessStateError, with the reason) while a step runs, while undoing, when
    finished, or from a state the mapping does not cover; and when the mapping would move the
    process back before a step it already attempted (the effect of that attempt could be lost).
    """
    target = registry.for_model(model._meta.label_lower, to_version)
    with transaction.atomic(), journal.acting(actor, reason):
        process = model.objects.select_for_update().get(pk=process_id)
        step = _safe_step(process, target)
        _move(process, target, step, reason)
        process.save()
        return process


def _safe_step(process, target: Workflow) -> str:
    refusal = migration_refusal(process, target, clock.now())
    if refusal is not None:
        raise refusal.error(process)
    return target.migrates_from[process.workflow_version][process.state]


def migration_refusal(process, target: Workflow, now) -> Refusal | None:
    """Why the process cannot move onto `target` now (None when it can): the check the move
    makes under the row lock, and a bulk operation's preview without it."""
    current = process.workflow_version
    if current == target.version:
        return Refusal(f"already runs on v{current}")
    if process.run_status == RunStatus.FINISHED or process.direction != Direction.FORWARD:
        return Refusal(f"is {process.state}: only a process going forward can change version")
    mapping = target.migrates_from.get(current)
    if mapping is None:
        return Refusal(f"cannot move: v{target.version} declares no migration from v{current}")
    if process.state not in mapping:
        covered = ", ".join(mapping) or "none"
        return Refusal(
            f"is {process.state}: v{target.version} maps no such state from v{current} (it maps {covered})"
        )
    running = refusals.running(process, now)
    if running is not None:
        return running
    step = mapping[process.state]
    if step != process.step and _attempted(process):
        return Refusal(
            f"already attempted {process.step}; moving it to {step} could lose that attempt's effect"
        )
    return None


def _attempted(process) -> bool:
    return StepAttempt.objects.filter(
        process_id=process.pk, step=process.step, direction=Direction.FORWARD
    ).exists()


def _move(process, target: Workflow, step_name: str, reason: str) -> None:
    old, now = process.workflow_version, clock.now()
    journal.note(
        process, EventKind.OPERATOR_ACTION, f"moved from v{old} to v{target.version} at {step_name}: {reason}"
    )
    leases.abandon(process, now)  # a lease that ran out (a live one was refused): its worker is gone
    process.workflow_version = target.version
    process.completed_steps = [name for name in process.completed_steps if name in target.step_names()]
    step = target.step(step_name)
    if step_name == process.step:
        return  # the same step on the new version: its attempts, wait and deadline carry over
    progress.enter_step(process, step, now)
    process.run_status = RunStatus.READY
    if not process.needs_attention:
        wake_on_commit(process)


@dataclass(frozen=True)
class InFlight:
    label: str
    version: int
    state: str
    count: int
    registered: bool


def in_flight() -> list[InFlight]:
    """Unfinished processes per workflow, version and state, for every registered model."""
    rows = []
    for label in registry.labels():
        model, known = registry.model_class(label), set(registry.versions(label))
        counts = (
            model.objects.exclude(run_status=RunStatus.FINISHED)
            .values("workflow_version", "state")
            .annotate(count=Count("pk"))
            .order_by("workflow_version", "state")
        )
        rows += [
            InFlight(
                label, row["workflow_version"], row["state"], row["count"], row["workflow_version"] in known
            )
            for row in counts
        ]
    return rows
