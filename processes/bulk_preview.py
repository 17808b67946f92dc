"""What a bulk operation would do, before it runs: how many processes it would act on, how many
it would refuse and why, and, for an action that undoes, what the undoing gives back.

The refusals come from the same check the action makes under the row lock (`BulkAction.refusal`,
processes.refusals), read here without a lock: the preview cannot promise what the action will
refuse, though a process may move on between the two. What an undo gives back is each step's
own `undo_preview` over the steps compensation would undo (processes.progress.undo_plan).
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from processes import clock, progress
from processes.bulk import action_for
from processes.workflow import registry


@dataclass
class Preview:
    """The figures of a preview. `undo` is {kind: {key: total}} ("refund": {"EUR": 62.50})."""

    action: str
    total: int = 0
    will_act: int = 0
    refusals: Counter = field(default_factory=Counter)
    undo: dict = field(default_factory=lambda: defaultdict(Counter))
    ids: list = field(default_factory=list)

    @property
    def refused(self) -> int:
        return self.total - self.will_act

    def refusal_rows(self) -> list[tuple[str, int]]:
        return self.refusals.most_common()

    def undo_rows(self) -> list[tuple[str, list[tuple[str, Decimal | int]]]]:
        return [(kind, sorted(keys.items())) for kind, keys in sorted(self.undo.items())]

    def as_dict(self) -> dict:
        """The figures as JSON-ready data (amounts as strings, exact)."""
        return {
            "action": self.action,
            "total": self.total,
            "will_act": self.will_act,
            "refused": self.refused,
            "refusals": [{"reason": reason, "count": count} for reason, count in self.refusal_rows()],
            "undo": {kind: {key: str(total) for key, total in keys} for kind, keys in self.undo_rows()},
        }


def bulk_preview(*, label: str, action: str, processes, arguments=None, now=None) -> Preview:
    """The preview of `action` over `processes` (an iterable of rows, with whatever their
    steps' `undo_preview` reads already loaded)."""
    bulk_action, now = action_for(label, action), now or clock.now()
    preview = Preview(action=action)
    for process in processes:
        preview.total += 1
        preview.ids.append(process.pk)
        refusal = bulk_action.refusal(process, now, arguments or {})
        if refusal is not None:
            preview.refusals[refusal.reason] += 1
            continue
        preview.will_act += 1
        if bulk_action.undoes:
            for effect in undo_effects(process):
                preview.undo[effect.kind][effect.key] += effect.quantity
    return preview


def undo_effects(process) -> list:
    """What compensating the process now gives back, and what it will not do any more."""
    workflow = registry.for_process(process)
    effects = [
        effect for step in progress.undo_plan(workflow, process) for effect in step.undo_preview(process)
    ]
    done = set(process.completed_steps)
    for step in workflow.steps:
        if step.name not in done:
            effects.extend(step.not_done_preview(process))
    return effects
