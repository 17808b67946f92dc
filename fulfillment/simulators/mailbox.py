"""An email backend that delivers into the simulators' SentMail ledger, once per Message-ID.

Retried sends are harmless when the sender gives each message a stable Message-ID: a second
offer is counted and dropped. `X-Reference` (the order id), if present, is what fault rules match.
"""

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage, make_msgid
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet

from fulfillment.gateways import ServiceTimeout, ServiceUnavailable
from fulfillment.simulators.faults import fault_after_effect, fault_before_effect
from fulfillment.simulators.models import SIMULATORS_DB, Operation, SentMail, Service

REFERENCE_HEADER = "X-Reference"
MESSAGE_ID_DOMAIN = "mailbox.simulators.localhost"


class LedgerEmailBackend(BaseEmailBackend):
    """Records each message in SentMail; faults for service `mail`, operation `send` apply."""

    def send_messages(self, email_messages) -> int:
        sent = 0
        for message in email_messages:
            try:
                sent += mail_deliver(message)
            except (ServiceUnavailable, ServiceTimeout):
                if not self.fail_silently:
                    raise
        return sent


def mail_deliver(message: EmailMessage) -> int:
    """Deliver one message: 1 if it was recorded, 0 if its Message-ID was already there."""
    message_id = _message_id(message)
    reference = _header(message, REFERENCE_HEADER) or ""
    mode = fault_before_effect(Service.MAIL, Operation.SEND, reference, message_id)
    accepted = _record(message, message_id, reference)
    fault_after_effect(Service.MAIL, Operation.SEND, mode)
    return int(accepted)


def mails_for(message_id: str) -> QuerySet[SentMail]:
    return SentMail.objects.filter(message_id=message_id)


def mails_for_reference(reference: str) -> QuerySet[SentMail]:
    return SentMail.objects.filter(reference=str(reference)).order_by("sent_at", "id")


def _header(message: EmailMessage, name: str) -> str | None:
    for key, value in message.extra_headers.items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _message_id(message: EmailMessage) -> str:
    """The message's own Message-ID, or a new one written into it, as an SMTP relay would."""
    message_id = _header(message, "Message-ID")
    if message_id is None:
        message_id = make_msgid(domain=MESSAGE_ID_DOMAIN)
        message.extra_headers["Message-ID"] = message_id
    return message_id


def _record(message: EmailMessage, message_id: str, reference: str) -> bool:
    """Insert first and count a duplicate on the unique constraint: no check-then-act race."""
    try:
        with transaction.atomic(using=SIMULATORS_DB):
            SentMail.objects.create(
                message_id=message_id,
                reference=reference,
                subject=str(message.subject)[:255],
                from_email=str(message.from_email or ""),
                recipients=list(message.recipients()),
                body=str(message.body),
            )
    except IntegrityError:
        mails_for(message_id).update(duplicate_offers=F("duplicate_offers") + 1)
        return False
    return True
