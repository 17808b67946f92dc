"""Every email to people goes through the outbox: needs-attention, an incident's opening and
closing, the pick timers. A worker that dies right after the event's commit, or a mail
server that is down, delays the email; it never loses it, nor sends it twice."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import transaction

from fulfillment.models import Order, PickProblem, PickTask, Stock, WarehouseAssignment
from fulfillment.picking.tasks import pick_task_claim, pick_task_report_problem
from fulfillment.simulators.mailbox import mails_for
from fulfillment.simulators.models import SentMail
from fulfillment.simulators.outages import outage_set
from processes import clock, runner, sweeper
from processes.flow import operators
from processes.journal import Actor
from processes.models.flow import CircuitEvent, CircuitEventKind
from processes.models.journal import ProcessEvent
from processes.models.outbox import OutboxMessage, OutboxStatus
from tests.circuit_scenarios import LABEL, open_label_circuit
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order
from tests.fulfillment.picking.conftest import BINS, operator_alerts

pytestmark = ENGINE_DB
OPERATORS = "operators@fulfillment.localhost"


class WorkerKilled(BaseException):
    """The worker's end, right after its commit: nothing else it meant to do runs."""


@contextmanager
def worker_dies_after_commit():
    """Run the block in one transaction whose first after-commit callback kills the worker:
    the data is committed, the after-commit sends never run."""

    def die():
        raise WorkerKilled

    with pytest.raises(WorkerKilled), transaction.atomic():
        transaction.on_commit(die)  # not robust: the callbacks after it are dropped
        yield


def receipts(order) -> int:
    return ProcessEvent.objects.filter(process_id=order.pk, reason__startswith="operators alerted").count()


@pytest.fixture
def waiting_task(catalogue) -> PickTask:
    for sku, bin_location in BINS.items():
        Stock.objects.filter(product__sku=sku).update(bin_location=bin_location)
    with clock.frozen():
        order = drive(place_order(), pick=False)
    return PickTask.objects.get(order=order)


@pytest.fixture
def alice(waiting_task, django_user_model):
    user = django_user_model.objects.create_user("alice")
    WarehouseAssignment.objects.create(user=user, warehouse=waiting_task.warehouse)
    return user


def test_needs_attention_survives_a_worker_dying_after_commit(waiting_task, alice):
    """A pick problem flags the order and its worker dies before the alert's send: the alert
    is in the outbox, and the next sweep sends it once, with its journal line."""
    pick_task_claim(task_id=waiting_task.pk, worker=alice)
    with worker_dies_after_commit():
        pick_task_report_problem(
            task_id=waiting_task.pk, worker=alice, problem=PickProblem.MISSING, note="bin is empty"
        )
    order = Order.objects.get(pk=waiting_task.order_id)
    assert order.needs_attention
    (message,) = OutboxMessage.objects.filter(process_id=order.pk)
    assert (message.kind, message.status, message.attempts) == ("attention", OutboxStatus.PENDING, 0)
    assert operator_alerts(order) == 0 and receipts(order) == 0

    sweeper.sweep_once()
    sweeper.sweep_once()

    assert operator_alerts(order) == 1 and receipts(order) == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT and message.to == [OPERATORS]
    (mail,) = mails_for(message.headers["Message-ID"])
    assert "Item missing reported by alice: bin is empty" in mail.body


def test_incident_alerts_wait_for_the_mail_server_and_go_out_once(catalogue):
    """The mail server is down while the carrier's circuit opens and an operator resumes it:
    both alerts are raised and queued in their transactions, and both are sent once the mail
    server is back, at their retry time."""
    with clock.frozen():
        outage_set(service="mail", on=True, by="test")
        circuit = open_label_circuit(then=1)
        operators.resume(LABEL, "create_label", actor=Actor("operator", "olga"), reason="carrier is back")
        queued = OutboxMessage.objects.filter(circuit=circuit).order_by("created_at", "id")
        assert [(m.kind, m.status, m.attempts) for m in queued] == [
            ("circuit_opened", OutboxStatus.PENDING, 1),
            ("circuit_closed", OutboxStatus.PENDING, 1),
        ]
        assert "ServiceUnavailable" in queued[0].last_error
        alerts = CircuitEvent.objects.filter(circuit=circuit, kind=CircuitEventKind.ALERT)
        assert [event.detail for event in alerts.order_by("created_at", "id")] == [
            f"circuit_opened alert: email to {OPERATORS} queued",
            f"circuit_closed alert: email to {OPERATORS} queued",
        ]
        assert not SentMail.objects.filter(subject__contains="circuit").exists()

        outage_set(service="mail", on=False, by="test")
        clock.advance(timedelta(seconds=30))
        sweeper.sweep_once()
        sweeper.sweep_once()

    assert {m.status for m in queued.all()} == {OutboxStatus.SENT}
    subjects = sorted(SentMail.objects.filter(subject__contains="circuit").values_list("subject", flat=True))
    assert len(subjects) == 2
    assert subjects[0].startswith("[Fulfillment] create_label circuit closed: carrier is back")
    assert subjects[1].startswith("[Fulfillment] create_label circuit opened: ")


def test_an_incident_closing_alert_survives_a_worker_dying_after_commit(catalogue):
    """The operator's resume commits and its worker dies: the closing alert is still sent."""
    with clock.frozen():
        circuit = open_label_circuit(then=1)
        with worker_dies_after_commit():
            operators.resume(LABEL, "create_label", actor=Actor("operator", "olga"), reason="back")
        closing = OutboxMessage.objects.get(circuit=circuit, kind="circuit_closed")
        assert closing.status == OutboxStatus.PENDING and closing.attempts == 0

        sweeper.sweep_once()

    closing.refresh_from_db()
    assert closing.status == OutboxStatus.SENT
    assert mails_for(closing.headers["Message-ID"]).count() == 1
    assert OutboxMessage.objects.filter(circuit=circuit, status=OutboxStatus.SENT).count() == 2


@pytest.fixture
def short_pick_timers(settings):
    settings.WAREHOUSE = {
        "WARNING_AFTER": 600,
        "UNCLAIMED_AFTER": 300,
        "CLAIM_TIMEOUT": 120,
        "SHIFT_LEAD_EMAIL": "lead@example.com",
    }


def test_a_pick_escalation_survives_a_worker_dying_after_commit(short_pick_timers, catalogue):
    """The unclaimed timer fires, flags the task and commits; its worker dies: the escalation
    email is sent by the next sweep, once, with its Message-ID of old."""
    with clock.frozen():
        order = drive(place_order(), pick=False)
        task = PickTask.objects.get(order=order)
        clock.advance(task.created_at + timedelta(seconds=300) - clock.now())
        with worker_dies_after_commit():
            runner.run_process(LABEL, order.pk)
        task.refresh_from_db()
        assert task.escalated_at == clock.now()
        message = OutboxMessage.objects.get(kind="pick_unclaimed")
        assert (message.status, message.process_id) == (OutboxStatus.PENDING, order.pk)
        message_id = f"<pick-unclaimed-{task.pk}@fulfillment.localhost>"
        assert message.headers["Message-ID"] == message_id and not mails_for(message_id).exists()

        sweeper.sweep_once()
        sweeper.sweep_once()

    (mail,) = mails_for(message_id)
    assert mail.recipients == ["lead@example.com", OPERATORS]
    assert "Nobody has claimed it for 5 minutes" in mail.body


def test_a_pick_warning_at_the_production_thresholds_waits_out_a_mail_outage(catalogue):
    """Default thresholds (the warning three hours after the task opens): with the mail server
    down the warning is kept, retried, and sent once when it is back."""
    with clock.frozen():
        order = drive(place_order(), pick=False)
        task = PickTask.objects.get(order=order)
        outage_set(service="mail", on=True, by="test")
        for seconds in (3600, 3 * 3600):  # the escalation, then the warning
            clock.advance(task.created_at + timedelta(seconds=seconds) - clock.now())
            sweeper.sweep_once()
            runner.run_process(LABEL, order.pk)
        pending = OutboxMessage.objects.filter(status=OutboxStatus.PENDING).order_by("created_at")
        assert list(pending.values_list("kind", flat=True)) == ["pick_unclaimed", "pick_warning"]
        assert "(60 min left)" in pending[1].subject

        outage_set(service="mail", on=False, by="test")
        clock.advance(timedelta(minutes=5))
        sweeper.sweep_once()
        sweeper.sweep_once()

    assert not OutboxMessage.objects.exclude(status=OutboxStatus.SENT).exists()
    assert mails_for(f"<pick-warning-{task.pk}@fulfillment.localhost>").count() == 1
    assert mails_for(f"<pick-unclaimed-{task.pk}@fulfillment.localhost>").count() == 1
