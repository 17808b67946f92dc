"""Deliver events from outside to a process, exactly once per dedup key, and keep them.

A provider may send an event before the process can act on it, or twice. The message is
stored and journalled in the process's transaction; the workflow's `on_message` handler, if
any, is offered every pending message under the row lock at each delivery. A message the
handler does not consume stays pending (and in the journal), to be offered with the next
delivery or by a caller holding the row lock (`offer_pending`).
"""

from django.db import IntegrityError, transaction

from processes import clock, journal
from processes.journal import Actor
from processes.models.inbox import ProcessMessage
from processes.models.journal import EventKind
from processes.workflow import registry


def process_message_deliver(
    *, model, process_id, name: str, dedup_key: str, payload: dict, actor: Actor, reason: str
) -> tuple[ProcessMessage, bool]:
    """Store the message for the process; returns (message, created). A known key changes nothing."""
    with transaction.atomic(), journal.acting(actor, reason):
        process = model.objects.select_for_update().get(pk=process_id)
        known = ProcessMessage.objects.filter(dedup_key=dedup_key).first()
        if known is not None:
            return known, False
        try:
            with transaction.atomic():
                message = ProcessMessage.objects.create(
                    process_type=process.label(),
                    process_id=process.pk,
                    name=name,
                    dedup_key=dedup_key,
                    payload=payload,
                )
        except IntegrityError:  # delivered concurrently for another process row
            return ProcessMessage.objects.get(dedup_key=dedup_key), False
        journal.note(process, EventKind.NOTE, f"received {name}: {reason}")
        offer_pending(process)
        process.save()
        return message, True


def offer_pending(process) -> int:
    """Offer the pending messages to the workflow's handler; call under the row lock."""
    handler = registry.for_process(process).on_message
    if handler is None:
        return 0
    consumed = 0
    for message in ProcessMessage.objects.filter(process_id=process.pk, consumed_at__isnull=True).order_by(
        "id"
    ):
        if handler(process, message):
            message.consumed_at = clock.now()
            message.save(update_fields=["consumed_at"])
            journal.note(process, EventKind.NOTE, f"acted on {message.name}")
            consumed += 1
    return consumed
