"""The emails a return sends its customer, each with a Message-ID fixed per return so a retry
never sends a second one (the mailbox drops a Message-ID it has seen)."""

from django.conf import settings
from django.core.mail import EmailMessage

from fulfillment.models import Notification, Return

RETURN_CONFIRMATION = "return_confirmation"
RETURN_CLOSED = "return_closed"


def return_message_id(ret: Return, kind: str) -> str:
    return f"<return-{ret.pk}.{kind}@fulfillment.localhost>"


def return_confirmation_send(*, ret: Return) -> str:
    """Tell the customer what was accepted, what was not and why, and what was refunded."""
    lines = []
    for line in ret.lines.select_related("order_line"):
        verdict = "accepted" if line.is_accepted() else f"not accepted: {line.reject_reason}"
        lines.append(f"  {line.quantity} × {line.order_line.sku}: {verdict}")
    refunded = ret.refund.amount
    body = (
        f"We inspected the items you returned from order {ret.order_id}.\n\n"
        + "\n".join(lines)
        + f"\n\nRefunded: {refunded} {ret.order.currency}\n"
    )
    return _send(
        ret, RETURN_CONFIRMATION, f"Your return {ret.pk}: {refunded} {ret.order.currency} refunded", body
    )


def return_closed_send(*, ret: Return) -> str:
    """Tell the customer the return was closed before its parcel arrived (cancelled, or no
    parcel by its deadline): its label no longer works and nothing is refunded."""
    body = (
        f"Your return {ret.pk} for order {ret.order_id} is closed: no parcel reached us under its "
        "label, which no longer works. Nothing was refunded. Request a new return if you still "
        "want to send the items back.\n"
    )
    return _send(ret, RETURN_CLOSED, f"Your return {ret.pk} is closed", body)


def return_notification_record(*, ret: Return, kind: str, message_id: str) -> Notification:
    """Under the return's row lock: one Notification per Message-ID, kept on the order."""
    found = Notification.objects.filter(message_id=message_id).first()
    return found or Notification.objects.create(message_id=message_id, order_id=ret.order_id, kind=kind)


def _send(ret: Return, kind: str, subject: str, body: str) -> str:
    message_id = return_message_id(ret, kind)
    EmailMessage(
        subject=subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[ret.order.email],
        headers={"Message-ID": message_id, "X-Reference": str(ret.pk)},
    ).send()
    return message_id
