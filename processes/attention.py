"""Flag a process for a person, and make sure somebody hears about it.

Used when automation must stop: a compensation that exhausted its retries, a forward step
whose policy says so, a wait that timed out. The process is never dropped: it stays flagged,
with its reason, until an operator acts.
"""

import json
import logging

from django.core.mail import mail_admins
from django.db import transaction

from processes import journal, signals
from processes.models import EventKind

logger = logging.getLogger("processes.attention")


def raise_attention(process, reason: str) -> None:
    """Flag the (locked) process; the caller saves. Alerts go out after commit."""
    process.needs_attention = True
    process.attention_reason = reason
    process.next_run_at = None
    journal.note(process, EventKind.ATTENTION, reason)
    facts = {
        "event": "process_needs_attention",
        "process": process.label(),
        "process_id": str(process.pk),
        "state": process.state,
        "step": process.step,
        "direction": process.direction,
        "reason": reason,
    }
    model = type(process)
    transaction.on_commit(lambda: alert_operators(model, facts), robust=True)


def clear_attention(process, reason: str) -> None:
    process.needs_attention = False
    process.attention_reason = ""
    journal.note(process, EventKind.NOTE, reason)


def alert_operators(model, facts: dict) -> None:
    logger.error(json.dumps(facts, sort_keys=True))
    signals.needs_attention.send(
        sender=model,
        process_id=facts["process_id"],
        state=facts["state"],
        step=facts["step"],
        reason=facts["reason"],
    )
    mail_admins(
        f"{facts['process']} {facts['process_id']} needs attention",
        f"State {facts['state']}, step {facts['step']} ({facts['direction']}).\n\n{facts['reason']}\n",
        fail_silently=True,
    )
