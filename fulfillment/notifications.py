"""The order confirmation email, with a Message-ID fixed per order so duplicates are dropped."""

from django.conf import settings
from django.core.mail import EmailMessage

from fulfillment.models import Notification, Order

CONFIRMATION = "order_confirmation"


def confirmation_message_id(order: Order) -> str:
    return f"<order-{order.pk}.confirmation@fulfillment.localhost>"


def confirmation_send(*, order: Order) -> str:
    """Send the confirmation through Django's email backend; returns its Message-ID."""
    message_id = confirmation_message_id(order)
    lines = "\n".join(f"  {line.quantity} × {line.sku}" for line in order.lines.all())
    message = EmailMessage(
        subject=f"Your order {order.pk} is on its way",
        body=f"Thank you for your order.\n\n{lines}\n\nTotal: {order.total} {order.currency}\n",
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.email],
        headers={"Message-ID": message_id, "X-Reference": str(order.pk)},
    )
    message.send()
    return message_id


def confirmation_record(*, order: Order, message_id: str) -> Notification:
    """Under the order's row lock, like payments.payment_record_charge."""
    notification = Notification.objects.filter(message_id=message_id).first()
    if notification is None:
        notification = Notification.objects.create(message_id=message_id, order=order, kind=CONFIRMATION)
    return notification
