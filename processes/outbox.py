"""Emails to people, written with the event that causes them and delivered at least once.

An alert sent after commit is lost for good when its worker dies between the commit and the
send. Here the caller writes the message (`enqueue`) inside the transaction of its event, so
the message exists exactly when the event committed. Delivery follows the engine's call and
record split (processes.runner): a short transaction claims one due message (one more attempt,
and its next attempt moved to its retry time, which is also its lease), the send runs outside
any transaction, and a second short transaction records the outcome. A worker that dies while
sending leaves the message due again at that retry time: at least once. Its Message-ID, fixed
by the key, lets a relay that deduplicates drop the repeat.

Delivery is tried right after the event's commit, in the same process (as fast as before the
outbox), and by every sweep (processes.sweeper) for whatever is still due. A failed send backs
off OUTBOX_RETRY_FIRST seconds, doubling up to OUTBOX_RETRY_MAX; after OUTBOX_ATTEMPTS the
message is marked failed, logged as an error and kept, for the admin's outbox list.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Count, Min

from processes import clock, conf
from processes.models.journal import ActorType, EventKind, ProcessEvent
from processes.models.outbox import OutboxMessage, OutboxStatus
from processes.workflow import registry

logger = logging.getLogger("processes.outbox")


def enqueue(
    *,
    key: str,
    kind: str,
    subject: str,
    body: str,
    from_email: str,
    to: list[str],
    headers: dict | None = None,
    process=None,
    receipt: str = "",
    circuit=None,
) -> None:
    """Write the message in the caller's transaction and deliver it right after commit.

    A message whose key is already there is left as it is (nothing is added); nobody in `to`
    writes nothing. `process`: the process it is about; `receipt`: the line its journal gets
    once the message went out. `circuit`: the incident it is about.
    """
    if not to:
        return
    now = clock.now()
    message = OutboxMessage(
        key=key,
        kind=kind,
        subject=" ".join(subject.split())[:255],  # one line: a header may not hold a newline
        body=body,
        from_email=from_email,
        to=list(to),
        headers={"Message-ID": message_id(key), **(headers or {})},
        process_type=process.label() if process is not None else "",
        process_id=process.pk if process is not None else None,
        receipt=receipt,
        circuit=circuit,
        created_at=now,
        next_attempt_at=now,
    )
    # INSERT … ON CONFLICT DO NOTHING: a second writer of the key neither fails nor adds.
    OutboxMessage.objects.bulk_create([message], ignore_conflicts=True)
    transaction.on_commit(lambda: deliver_due(keys=[key]), robust=True)


def message_id(key: str) -> str:
    """The Message-ID of every attempt at the key's message (hashed: no ids leak into it)."""
    return f"<outbox-{hashlib.sha256(key.encode()).hexdigest()[:32]}@processes.localhost>"


def deliver_due(*, keys: list[str] | None = None, beat=None) -> int:
    """Send the due messages (only those of `keys`, if given) one by one, at most OUTBOX_BATCH;
    returns how many went out. Stops at the first failed send: the mail server is most likely
    down, and the next round (a sweep) comes soon enough. Call it outside any transaction.
    `beat`, if given, is called after each send: the sweeper process's sign of life, so that a
    round of slow sends (each up to EMAIL_TIMEOUT) is not taken for a wedged sweeper and killed
    between a send and its record, which would send that email again."""
    sent = 0
    for _ in range(conf.get("OUTBOX_BATCH")):
        message = _claim(keys)
        if message is None:
            break
        error = _send(message)
        _record(message, error)
        if beat is not None:
            beat()
        if error:
            break
        sent += 1
    return sent


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` of them: doubling from the first, capped."""
    return min(conf.get("OUTBOX_RETRY_FIRST") * 2 ** (attempts - 1), conf.get("OUTBOX_RETRY_MAX"))


def _claim(keys: list[str] | None) -> OutboxMessage | None:
    """Take the most overdue message for one attempt (SKIP LOCKED: concurrent rounds share)."""
    while True:
        with transaction.atomic():
            now = clock.now()
            due = OutboxMessage.objects.filter(status=OutboxStatus.PENDING, next_attempt_at__lte=now)
            if keys is not None:
                due = due.filter(key__in=keys)
            message = due.order_by("next_attempt_at", "pk").select_for_update(skip_locked=True).first()
            if message is None:
                return None
            if message.attempts < conf.get("OUTBOX_ATTEMPTS"):
                message.attempts += 1
                message.next_attempt_at = now + timedelta(seconds=retry_delay(message.attempts))
                message.save(update_fields=["attempts", "next_attempt_at"])
                return message
            _give_up(message, message.last_error or "the last attempt never reported (its worker died?)")


def _send(message: OutboxMessage) -> str:
    """Hand the message to the email backend; the error, or '' once it was accepted."""
    email = EmailMessage(
        subject=message.subject,
        body=message.body,
        from_email=message.from_email,
        to=message.to,
        headers=dict(message.headers),
    )
    try:
        email.send()
    except Exception as error:  # any backend, any failure: recorded on the row, retried
        return f"{type(error).__name__}: {error}"[:2000] or type(error).__name__
    return ""


def _record(message: OutboxMessage, error: str) -> None:
    with transaction.atomic():
        if error and message.attempts >= conf.get("OUTBOX_ATTEMPTS"):
            _give_up(message, error)
        elif error:
            OutboxMessage.objects.filter(pk=message.pk).update(last_error=error)
            logger.warning(
                "could not send %r (attempt %d, next at %s): %s",
                message.subject,
                message.attempts,
                message.next_attempt_at.isoformat(timespec="seconds"),
                error,
            )
        else:
            _mark_sent(message)


def _mark_sent(message: OutboxMessage) -> None:
    """Sent: the row says so and the process's journal gets its receipt, once (a send that
    overlapped a slower one of the same message finds it sent already)."""
    now = clock.now()
    pending = OutboxMessage.objects.filter(pk=message.pk, status=OutboxStatus.PENDING)
    if not pending.update(status=OutboxStatus.SENT, sent_at=now, next_attempt_at=None, last_error=""):
        return
    if message.receipt and message.process_id:
        state, step = _state_and_step(message.process_type, message.process_id)
        ProcessEvent.objects.create(
            process_type=message.process_type,
            process_id=message.process_id,
            kind=EventKind.NOTE,
            from_state=state,
            to_state=state,
            step=step,
            actor_type=ActorType.SYSTEM,
            actor="outbox",
            reason=message.receipt,
            created_at=now,
        )


def _give_up(message: OutboxMessage, error: str) -> None:
    OutboxMessage.objects.filter(pk=message.pk).update(
        status=OutboxStatus.FAILED, next_attempt_at=None, last_error=error
    )
    logger.error(
        "gave up sending %r to %s after %d attempts: %s",
        message.subject,
        ", ".join(message.to),
        message.attempts,
        error,
    )


def _state_and_step(label: str, process_id) -> tuple[str, str]:
    """Where the process is now, for its journal line ('' for a workflow no longer registered)."""
    try:
        model = registry.model_class(label)
    except LookupError:
        return "", ""
    return model.objects.filter(pk=process_id).values_list("state", "step").first() or ("", "")


@dataclass(frozen=True)
class OutboxFigures:
    """What /metrics says about the outbox."""

    pending: int
    failed: int
    oldest_pending_age: float  # seconds; 0 when none is pending


def outbox_figures(now: datetime | None = None) -> OutboxFigures:
    """One aggregate over the partial index of unsent messages."""
    now = now or clock.now()
    rows = {
        row["status"]: row
        for row in OutboxMessage.objects.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.FAILED])
        .order_by()
        .values("status")
        .annotate(n=Count("pk"), oldest=Min("created_at"))
    }
    pending = rows.get(OutboxStatus.PENDING)
    return OutboxFigures(
        pending=pending["n"] if pending else 0,
        failed=rows[OutboxStatus.FAILED]["n"] if OutboxStatus.FAILED in rows else 0,
        oldest_pending_age=max(0.0, (now - pending["oldest"]).total_seconds()) if pending else 0.0,
    )
