"""The ledger mailbox delivers each Message-ID once, and honours mail fault rules."""

import pytest
from django.core.mail import EmailMessage, get_connection

from fulfillment.gateways import ServiceTimeout, ServiceUnavailable
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.mailbox import mails_for, mails_for_reference
from fulfillment.simulators.models import SentMail

from .conftest import SIMULATORS_DB

pytestmark = SIMULATORS_DB
BACKEND = "fulfillment.simulators.mailbox.LedgerEmailBackend"


def message(message_id="<order-1-confirmed@fulfillment>", reference="1"):
    headers = {"X-Reference": reference}
    if message_id:
        headers["Message-ID"] = message_id
    return EmailMessage(
        "Order confirmed", "Thanks!", "shop@example.com", ["ada@example.com"], headers=headers
    )


def send(*messages, fail_silently=False):
    return get_connection(BACKEND, fail_silently=fail_silently).send_messages(list(messages))


def test_duplicate_message_id_is_dropped_and_counted():
    """A second offer of one Message-ID is not delivered again; it is counted."""
    assert send(message()) == 1
    assert send(message(), message()) == 0
    mail = mails_for("<order-1-confirmed@fulfillment>").get()
    assert mail.duplicate_offers == 2
    assert mail.recipients == ["ada@example.com"] and mail.reference == "1"


def test_message_without_id_gets_one():
    """A message without Message-ID is given one, written back onto the message."""
    mail = message(message_id=None)
    assert send(mail) == 1
    assert mails_for(mail.extra_headers["Message-ID"]).exists()


def test_unavailable_delivers_nothing():
    """A refused send records nothing, so the retry delivers."""
    fault_add(service="mail", operation="send", mode="unavailable")
    with pytest.raises(ServiceUnavailable):
        send(message())
    assert not SentMail.objects.exists()
    assert send(message()) == 1


def test_timeout_after_effect_delivers_and_retry_is_duplicate():
    """The mail is delivered before the timeout; resending it is dropped as a duplicate."""
    fault_add(service="mail", operation="send", mode="timeout_after_effect", reference="1")
    with pytest.raises(ServiceTimeout):
        send(message())
    assert send(message()) == 0
    assert mails_for_reference("1").count() == 1


def test_fail_silently_swallows_faults():
    """With fail_silently, a refused message is skipped and the rest are sent."""
    fault_add(service="mail", operation="send", mode="unavailable", reference="1")
    sent = send(message(), message("<order-2@fulfillment>", reference="2"), fail_silently=True)
    assert sent == 1
    assert list(SentMail.objects.values_list("reference", flat=True)) == ["2"]
