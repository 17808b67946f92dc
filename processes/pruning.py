"""Keep the journal from growing without bound: drop the attempt detail of old, finished processes.

What goes: every StepAttempt row (idempotency key, worker, error, stored result, duration)
and the retry and lease-expired notes, of processes that finished before the cut-off. What
stays: the transitions, operator actions, attention and other notes, so a finished order's
history (who moved it where, when and why) remains readable. Each batch is one short
transaction over a bounded set of process ids; process rows are never locked (a finished
process does not change any more).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from processes import conf
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from processes.workflow import registry

DETAIL_EVENTS = (EventKind.RETRY_SCHEDULED, EventKind.LEASE_EXPIRED)


@dataclass
class PruneResult:
    processes: int = 0
    attempts: int = 0
    events: int = 0
    batches: int = 0


def journal_prune(
    *, finished_before: datetime, batch_size: int | None = None, dry_run: bool = False
) -> PruneResult:
    """Delete the attempt detail of processes finished before `finished_before`, in batches."""
    batch_size = batch_size or conf.get("PRUNE_BATCH")
    result = PruneResult()
    for label in registry.labels():
        model = registry.model_class(label)
        finished = model.objects.filter(run_status=RunStatus.FINISHED, updated_at__lt=finished_before)
        after = None
        while True:
            page = finished.filter(pk__gt=after) if after else finished
            ids = list(page.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            after = ids[-1]
            _prune_batch(label, ids, result, dry_run=dry_run)
    return result


def _prune_batch(label: str, ids: list, result: PruneResult, *, dry_run: bool) -> None:
    attempts = StepAttempt.objects.filter(process_type=label, process_id__in=ids)
    events = ProcessEvent.objects.filter(process_type=label, process_id__in=ids, kind__in=DETAIL_EVENTS)
    result.processes += len(ids)
    result.batches += 1
    if dry_run:
        result.attempts += attempts.count()
        result.events += events.count()
        return
    with transaction.atomic():
        result.attempts += attempts.delete()[0]
        result.events += events.delete()[0]
