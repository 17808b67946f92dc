"""Flag a process for a person, and make sure somebody hears about it, once.

Used when automation must stop: a compensation that exhausted its retries, a forward step
whose policy says so, a wait that timed out. The process is never dropped: it stays flagged,
with its reason, until an operator acts.

An attention episode runs from the moment the flag goes up until an operator clears it. The
operators are alerted when an episode begins, never again during it: the callers hold the
process row locked, so "was it already flagged?" is answered once per episode, whatever
raises it a second time (a worker reporting a problem on a wait that already timed out, ...).
The email is written to the outbox in the transaction that raises the flag (processes.outbox),
so a worker that dies after the commit loses no alert; its Message-ID is fixed per episode, so
a mail relay that deduplicates drops a repeat. The log line and the signal go out on commit.
"""

import hashlib
import json
import logging

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from processes import clock, journal, outbox, signals
from processes.models.journal import EventKind

logger = logging.getLogger("processes.attention")


def raise_attention(process, reason: str, *, about_step: bool = True) -> None:
    """Flag the (locked) process; the caller saves. A new episode alerts after commit.

    `about_step=False` marks a flag raised from outside (an event, not the current step's
    failure): the step's own later success does not clear it.
    """
    ongoing = process.needs_attention
    process.needs_attention = True
    process.attention_reason = reason
    if not ongoing or process.attention_since is None:
        process.attention_since = clock.now()
    if not (ongoing and not process.attention_step):
        process.attention_step = process.step if about_step else ""
    process.next_run_at = None
    process.stop_holding()  # a person has it now, not its step's flow control
    journal.note(process, EventKind.ATTENTION, f"still needs attention: {reason}" if ongoing else reason)
    if not ongoing:  # else the operators heard about this episode when it began
        _alert_new_episode(process, reason)


def _alert_new_episode(process, reason: str) -> None:
    """The email goes into the outbox in the caller's transaction; the log line and the signal
    go out on commit."""
    facts = {
        "event": "process_needs_attention",
        "process": process.label(),
        "process_id": str(process.pk),
        "state": process.state,
        "step": process.step,
        "direction": process.direction,
        "reason": reason,
        "episode": clock.now().strftime("%Y%m%dT%H%M%S.%f"),
    }
    model = type(process)
    facts["url"] = admin_url(model, facts["process_id"])
    transaction.on_commit(lambda: alert_operators(model, facts), robust=True)
    recipients = [address for _, address in settings.ADMINS]
    outbox.enqueue(
        key=f"attention:{facts['process']}:{facts['process_id']}:{facts['episode']}",
        kind="attention",
        **_alert_message(facts),
        to=recipients,
        process=process,
        receipt=f"operators alerted by email ({', '.join(recipients)})",
    )


def clear_attention(process, reason: str) -> None:
    process.needs_attention = False
    process.attention_reason = ""
    process.attention_step = ""
    process.attention_since = None
    journal.note(process, EventKind.NOTE, reason)


def alert_operators(model, facts: dict) -> None:
    """Tell the operators' log and listeners: a JSON log line and the `needs_attention` signal
    (the email is in the outbox)."""
    logger.error(json.dumps(facts, sort_keys=True))
    signals.needs_attention.send(
        sender=model,
        process_id=facts["process_id"],
        state=facts["state"],
        step=facts["step"],
        reason=facts["reason"],
    )


def admin_url(model, process_id) -> str:
    """The absolute address of the process's admin page (SITE_URL + the admin's own route)."""
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_change"
    try:
        path = reverse(name, args=[process_id])
    except NoReverseMatch:
        return ""
    return getattr(settings, "SITE_URL", "").rstrip("/") + path


def _alert_message(facts: dict) -> dict:
    name = f"{facts['process']} {facts['process_id']}"
    link = f"\n\nOpen it: {facts['url']}\n" if facts["url"] else "\n"
    return {
        "subject": f"{settings.EMAIL_SUBJECT_PREFIX}{name} needs attention",
        "body": (
            f"{name} needs attention.\n\n"
            f"State {facts['state']}, step {facts['step'] or '-'} ({facts['direction']}).\n\n"
            f"{facts['reason']}{link}"
        ),
        "from_email": settings.SERVER_EMAIL,
        "headers": {"Message-ID": _episode_message_id(facts)},
    }


def _episode_message_id(facts: dict) -> str:
    """The same for every alert about one episode (hashed: mail searches by order id stay clean)."""
    episode = f"{facts['process']}:{facts['process_id']}:{facts['episode']}"
    return f"<attention-{hashlib.sha256(episode.encode()).hexdigest()[:32]}@processes.localhost>"
