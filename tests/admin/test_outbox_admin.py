"""The outbox's admin list: operators see every email to people, sent, pending or given up,
filter and search them, and change none."""

import uuid

import pytest
from django.urls import reverse

from processes import clock
from processes.models.outbox import OutboxMessage, OutboxStatus

pytestmark = pytest.mark.django_db
LIST = reverse("admin:processes_outboxmessage_changelist")
ORDER_ID = uuid.uuid4()


@pytest.fixture
def messages():
    now = clock.now()
    rows = {}
    for status, subject, process_id in [
        (OutboxStatus.SENT, "Pick close to late", None),
        (OutboxStatus.PENDING, "create_label circuit opened", None),
        (OutboxStatus.FAILED, f"fulfillment.order {ORDER_ID} needs attention", ORDER_ID),
    ]:
        rows[status] = OutboxMessage.objects.create(
            key=f"test:{status}",
            kind="attention" if process_id else "test",
            subject=subject,
            body="…",
            from_email="alerts@example.com",
            to=["operators@example.com"],
            process_id=process_id,
            status=status,
            next_attempt_at=now if status == OutboxStatus.PENDING else None,
            sent_at=now if status == OutboxStatus.SENT else None,
            last_error="SMTPServerDisconnected: Connection unexpectedly closed"
            if status == OutboxStatus.FAILED
            else "",
            attempts=10 if status == OutboxStatus.FAILED else 1,
        )
    return rows


def listed(client, **query) -> set[str]:
    response = client.get(LIST, query)
    assert response.status_code == 200
    return {message.subject for message in response.context["cl"].result_list}


def test_operators_and_support_see_every_message(ops_client, support_client, messages):
    for client in (ops_client, support_client):
        assert len(listed(client)) == 3
    page = ops_client.get(LIST).content.decode()
    assert "SMTPServerDisconnected" in page and "operators@example.com" in page


def test_filters_by_status_and_search_by_process(ops_client, messages):
    failed = messages[OutboxStatus.FAILED].subject
    assert listed(ops_client, status__exact="failed") == {failed}
    assert listed(ops_client, status__exact="pending") == {"create_label circuit opened"}
    assert listed(ops_client, q=str(ORDER_ID)) == {failed}
    assert listed(ops_client, q="circuit") == {"create_label circuit opened"}


def test_nobody_changes_or_adds_a_message(ops_client, messages):
    pending = messages[OutboxStatus.PENDING]
    change = reverse("admin:processes_outboxmessage_change", args=[pending.pk])
    assert ops_client.get(reverse("admin:processes_outboxmessage_add")).status_code == 403
    assert ops_client.post(change, {"subject": "changed"}).status_code == 403
    pending.refresh_from_db()
    assert pending.subject == "create_label circuit opened"
