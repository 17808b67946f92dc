"""Email backends the outbox's tests name by dotted path in EMAIL_BACKEND: real backends,
Django's in-memory one (`django.core.mail.outbox`) behind a mail server that misbehaves."""

from smtplib import SMTPServerDisconnected

from django.core.mail.backends.locmem import EmailBackend


class FlakyEmailBackend(EmailBackend):
    """Refuses the next `failures` sends as a mail server that drops the connection would,
    then accepts into `django.core.mail.outbox`; `refused` counts the refusals."""

    failures = 0
    refused = 0

    def send_messages(self, messages):
        if FlakyEmailBackend.failures > 0:
            FlakyEmailBackend.failures -= 1
            FlakyEmailBackend.refused += 1
            if self.fail_silently:
                return 0
            raise SMTPServerDisconnected("Connection unexpectedly closed")
        return super().send_messages(messages)


class WorkerKilled(BaseException):
    """What a killed worker looks like from inside: nothing after it runs (not an Exception)."""


class DyingEmailBackend(EmailBackend):
    """Its worker is killed in the middle of the next `deaths` sends."""

    deaths = 0

    def send_messages(self, messages):
        if DyingEmailBackend.deaths > 0:
            DyingEmailBackend.deaths -= 1
            raise WorkerKilled
        return super().send_messages(messages)


class SlowEmailBackend(EmailBackend):
    """A mail server that takes its time: each send waits until the test sets `answer`,
    after telling it through `sending` that it has begun; `started` counts the sends begun."""

    sending = None  # threading.Event, set by the test
    answer = None
    started = 0

    def send_messages(self, messages):
        SlowEmailBackend.started += 1
        SlowEmailBackend.sending.set()
        assert SlowEmailBackend.answer.wait(timeout=10), "the test never let the send finish"
        return super().send_messages(messages)
