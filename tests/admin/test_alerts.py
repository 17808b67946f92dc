"""Operators are emailed once per attention episode, with a link to the order's admin page."""

from django.db import transaction

from fulfillment.models import Order
from fulfillment.simulators.models import SentMail
from processes import attention
from processes.models.journal import ProcessEvent
from tests.admin.conftest import SCENARIOS
from tests.admin.test_actions import act
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB


def alerts_for(order):
    return SentMail.objects.filter(subject__contains=f"{order.pk} needs attention")


def raise_again(order, reason):
    with transaction.atomic():
        locked = Order.objects.select_for_update().get(pk=order.pk)
        attention.raise_attention(locked, reason)
        locked.save()


def test_alert_is_sent_once_with_a_link(settings, catalogue):
    """An order entering needs-attention emails the operators with the link to its page."""
    settings.SITE_URL = "https://backoffice.example.com"
    order = SCENARIOS["attention_confirmation"]()

    mail = alerts_for(order).get()

    assert mail.recipients == [address for _, address in settings.ADMINS]
    assert f"https://backoffice.example.com/admin/fulfillment/order/{order.pk}/change/" in mail.body
    assert "send_confirmation gave up after 8 attempts" in mail.body
    assert (
        ProcessEvent.objects.filter(process_id=order.pk, reason__startswith="operators alerted").count() == 1
    )


def test_raising_again_in_the_same_episode_sends_nothing(catalogue):
    """Flagged again while still flagged: journalled, but no second email."""
    order = SCENARIOS["attention_confirmation"]()

    raise_again(order, "the worker reported a problem too")

    assert alerts_for(order).count() == 1
    order.refresh_from_db()
    assert order.attention_reason == "the worker reported a problem too"
    assert ProcessEvent.objects.filter(
        process_id=order.pk,
        kind="attention",
        reason="still needs attention: the worker reported a problem too",
    ).exists()


def test_a_new_episode_alerts_again(ops_client, catalogue):
    """Once an operator resolved it, the next time the order needs attention is a new alert."""
    order = SCENARIOS["attention_confirmation"]()
    act(ops_client, "resolve", [order])

    raise_again(order, "confirmation bounced")

    assert alerts_for(order).count() == 2
    assert len(set(alerts_for(order).values_list("message_id", flat=True))) == 2


def test_no_alert_when_the_flag_is_rolled_back(catalogue):
    """A raise inside a transaction that rolls back neither flags nor emails."""
    order = SCENARIOS["due_payment"]()
    try:
        with transaction.atomic():
            locked = Order.objects.select_for_update().get(pk=order.pk)
            attention.raise_attention(locked, "never happened")
            locked.save()
            raise RuntimeError
    except RuntimeError:
        pass

    assert not alerts_for(order).exists() and not Order.objects.get(pk=order.pk).needs_attention
