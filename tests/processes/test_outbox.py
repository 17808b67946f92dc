"""The outbox: an email written with its event is sent at least once, exactly once into the
mailbox, whatever dies or fails between the commit and the mail server's answer."""

import logging
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, transaction

from processes import clock, conf, outbox, sweeper
from processes.models.outbox import OutboxMessage, OutboxStatus
from tests.processes.mail_backends import (
    DyingEmailBackend,
    FlakyEmailBackend,
    SlowEmailBackend,
    WorkerKilled,
)

pytestmark = pytest.mark.django_db

KEY = "test:order-1:shipped"


@pytest.fixture
def flaky(settings):
    settings.EMAIL_BACKEND = "tests.processes.mail_backends.FlakyEmailBackend"
    FlakyEmailBackend.failures, FlakyEmailBackend.refused = 0, 0
    yield FlakyEmailBackend
    FlakyEmailBackend.failures = 0


@pytest.fixture
def frozen():
    with clock.frozen():
        yield


def write(key: str = KEY, subject: str = "Order 1 shipped", to=("ops@example.com",)) -> None:
    """The event's transaction: whatever it changes, and its message."""
    with transaction.atomic():
        outbox.enqueue(
            key=key,
            kind="test",
            subject=subject,
            body="It left the warehouse.",
            from_email="alerts@example.com",
            to=list(to),
        )


def row(key: str = KEY) -> OutboxMessage:
    return OutboxMessage.objects.get(key=key)


def at(seconds: float) -> None:
    """Move the frozen clock to `seconds` after the message was written."""
    clock.advance(row().created_at + timedelta(seconds=seconds) - clock.now())


def test_sent_right_after_commit_with_a_message_id_fixed_by_its_key(
    flaky, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        write()

    (sent,) = mail.outbox
    assert sent.subject == "Order 1 shipped" and sent.to == ["ops@example.com"]
    assert sent.extra_headers["Message-ID"] == outbox.message_id(KEY)
    message = row()
    assert (message.status, message.attempts, message.next_attempt_at) == (OutboxStatus.SENT, 1, None)
    assert message.sent_at is not None and message.last_error == ""


def test_crash_between_commit_and_send_loses_nothing(flaky, django_capture_on_commit_callbacks):
    """The event commits, its worker dies before the after-commit send: the message is in the
    table, and the next sweep sends it, once."""
    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        write()
    assert len(after_commit) == 1  # the send that never ran
    assert row().status == OutboxStatus.PENDING and mail.outbox == []

    sweeper.sweep_once()
    sweeper.sweep_once()

    assert len(mail.outbox) == 1 and row().status == OutboxStatus.SENT


def test_no_message_when_the_event_rolls_back(flaky):
    with pytest.raises(RuntimeError), transaction.atomic():
        write()
        raise RuntimeError("the event failed")

    assert not OutboxMessage.objects.exists()
    sweeper.sweep_once()
    assert mail.outbox == []


def test_the_same_key_twice_makes_one_row_and_one_mail(flaky, django_capture_on_commit_callbacks):
    """A retried transaction (or a second caller) writes the message again: nothing is added,
    nothing is changed, one mail goes out."""
    with django_capture_on_commit_callbacks(execute=True):
        write()
    with django_capture_on_commit_callbacks(execute=True):
        write(subject="Order 1 shipped (again)")
    sweeper.sweep_once()

    assert OutboxMessage.objects.count() == 1 and row().subject == "Order 1 shipped"
    assert [sent.subject for sent in mail.outbox] == ["Order 1 shipped"]


def test_the_same_key_twice_before_any_send(flaky, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        write()
        write()
    sweeper.sweep_once()

    assert OutboxMessage.objects.count() == 1 and len(mail.outbox) == 1


def test_nobody_to_tell_writes_nothing(flaky):
    write(to=())
    assert not OutboxMessage.objects.exists()


def test_a_failing_mail_server_is_retried_with_backoff_until_one_mail_is_sent(
    flaky, frozen, django_capture_on_commit_callbacks
):
    """Refused three times: tried again after 30 s, 60 s and 120 s on the engine's clock,
    never sooner, and exactly one mail arrives."""
    flaky.failures = 3
    with django_capture_on_commit_callbacks(execute=True):
        write()  # attempt 1, right after commit: refused
    assert (row().attempts, row().next_attempt_at) == (1, clock.now() + timedelta(seconds=30))
    assert "SMTPServerDisconnected" in row().last_error

    for early, due in ((29.9, 30), (89.9, 90), (209.9, 210)):
        at(early)
        sweeper.sweep_once()
        assert row().status == OutboxStatus.PENDING and row().attempts == flaky.refused
        at(due)
        sweeper.sweep_once()

    message = row()
    assert (message.status, message.attempts, message.last_error) == (OutboxStatus.SENT, 4, "")
    assert message.sent_at == clock.now() and flaky.refused == 3
    at(100_000)
    sweeper.sweep_once()
    assert len(mail.outbox) == 1


def test_gives_up_after_its_attempts_at_the_production_defaults(
    flaky, frozen, caplog, django_capture_on_commit_callbacks
):
    """With the defaults (no override here): 10 attempts, 30 s doubling to an hour between
    them, about three hours in all; then the message is marked failed, logged as an error,
    kept, and no sweep tries it again."""
    assert (conf.get("OUTBOX_ATTEMPTS"), conf.get("OUTBOX_RETRY_FIRST"), conf.get("OUTBOX_RETRY_MAX")) == (
        10,
        30.0,
        3600.0,
    )
    flaky.failures = 1000
    with django_capture_on_commit_callbacks(execute=True):
        write()
    delays = []
    while row().status == OutboxStatus.PENDING and len(delays) < 20:
        delays.append((row().next_attempt_at - clock.now()).total_seconds())
        clock.advance(delays[-1])
        with caplog.at_level(logging.ERROR, logger="processes.outbox"):
            sweeper.sweep_once()

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]
    message = row()
    assert (message.status, message.attempts, message.next_attempt_at) == (OutboxStatus.FAILED, 10, None)
    assert "SMTPServerDisconnected" in message.last_error
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "gave up sending 'Order 1 shipped' to ops@example.com after 10 attempts: "
        "SMTPServerDisconnected: Connection unexpectedly closed"
    ]
    flaky.failures = 0
    clock.advance(timedelta(days=1))
    sweeper.sweep_once()
    assert flaky.refused == 10 and mail.outbox == [] and row().status == OutboxStatus.FAILED


def test_a_worker_killed_while_sending_is_retried_at_its_retry_time(
    settings, frozen, django_capture_on_commit_callbacks
):
    """The claim moved the next attempt before the send: a worker killed during the send
    leaves the message due again 30 s later (its outcome unknown, it is sent again: at least
    once, with the same Message-ID)."""
    settings.EMAIL_BACKEND = "tests.processes.mail_backends.DyingEmailBackend"
    DyingEmailBackend.deaths = 1
    with pytest.raises(WorkerKilled), django_capture_on_commit_callbacks(execute=True):
        write()
    assert (row().status, row().attempts) == (OutboxStatus.PENDING, 1)

    at(29)
    sweeper.sweep_once()
    assert mail.outbox == []
    at(30)
    sweeper.sweep_once()
    assert len(mail.outbox) == 1 and row().status == OutboxStatus.SENT


def test_a_round_stops_at_the_first_refusal(flaky, frozen, django_capture_on_commit_callbacks):
    """With the mail server down, a sweep spends one attempt, not one per due message: the
    sweeper loop is not held up by a server that answers nothing."""
    with django_capture_on_commit_callbacks(execute=False):
        for n in range(5):
            write(key=f"test:{n}")
    flaky.failures = 100

    sweeper.sweep_once()

    assert flaky.refused == 1
    assert OutboxMessage.objects.filter(attempts=0).count() == 4
    flaky.failures = 0
    sweeper.sweep_once()
    assert len(mail.outbox) == 4  # the refused one waits for its retry time
    clock.advance(30)
    sweeper.sweep_once()
    assert len(mail.outbox) == 5


def test_a_sweep_gives_a_sign_of_life_after_each_email(flaky, frozen, django_capture_on_commit_callbacks):
    """The sweeper process's supervisor kills a sweeper silent too long: a round of slow sends
    beats after each one, so a live round is never taken for a wedged sweeper (killed between a
    send and its record, the email would go twice)."""
    with django_capture_on_commit_callbacks(execute=False):
        for n in range(3):
            write(key=f"test:{n}")
    beats = []

    def beat():
        beats.append(len(mail.outbox))

    sweeper.sweep_once(beat=beat)

    assert beats == [1, 2, 3]


def test_subjects_are_one_line(flaky, django_capture_on_commit_callbacks):
    """A reason with a line break (an error text) still makes a sendable subject."""
    with django_capture_on_commit_callbacks(execute=True):
        write(subject="circuit opened: carrier said\r\n503 Service Unavailable")
    assert [sent.subject for sent in mail.outbox] == ["circuit opened: carrier said 503 Service Unavailable"]


@pytest.mark.django_db(transaction=True)
def test_two_rounds_at_once_send_a_message_once(settings):
    """While one worker is sending a message (its claim committed, the server slow to answer),
    a sweep on another connection finds nothing due: no second send, no waiting on a lock."""
    settings.EMAIL_BACKEND = "tests.processes.mail_backends.SlowEmailBackend"
    SlowEmailBackend.sending, SlowEmailBackend.answer = threading.Event(), threading.Event()
    SlowEmailBackend.started = 0
    OutboxMessage.objects.create(  # as enqueue writes it, without its after-commit send
        key=KEY,
        kind="test",
        subject="s",
        body="b",
        from_email="a@example.com",
        to=["b@example.com"],
        next_attempt_at=clock.now(),
    )
    results = {}

    def first_worker():
        try:
            results["first"] = outbox.deliver_due()
        finally:
            connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    assert SlowEmailBackend.sending.wait(timeout=10)
    try:
        results["second"] = outbox.deliver_due()
    finally:
        SlowEmailBackend.answer.set()
        worker.join(timeout=10)

    assert results == {"first": 1, "second": 0} and SlowEmailBackend.started == 1
    assert len(mail.outbox) == 1 and row().status == OutboxStatus.SENT
