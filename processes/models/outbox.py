"""The outbox of emails to people, sent after the transaction that wrote them (processes.outbox)."""

from django.db import models
from django.db.models import Q

from processes import clock


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # not sent yet: due at `next_attempt_at`
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up)"  # every attempt failed: a person must look


class OutboxMessage(models.Model):
    """An email to people (an alert, a notice), written in the transaction of the event that
    causes it and delivered by a worker afterwards, with retries (processes.outbox).

    `key` names the event, so writing it twice (a retried transaction, a second caller) keeps
    one row, and the Message-ID in `headers` stays the same on every attempt: a relay that
    deduplicates drops a repeat of a send whose outcome was lost.
    """

    key = models.CharField(max_length=200, unique=True)
    # What the message is about, for filtering: `attention`, `circuit_opened`, `pick_warning`, ...
    kind = models.CharField(max_length=64)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    from_email = models.CharField(max_length=254)
    to = models.JSONField(default=list)
    headers = models.JSONField(default=dict, blank=True)
    # The process it is about, if any (searchable in the admin); with a `receipt`, delivery
    # writes that line into the process's journal once the message went out.
    process_type = models.CharField(max_length=100, blank=True)
    process_id = models.UUIDField(null=True, blank=True)
    receipt = models.TextField(blank=True)
    # The incident it is about, if any.
    circuit = models.ForeignKey(
        "Circuit", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    status = models.CharField(max_length=16, choices=OutboxStatus, default=OutboxStatus.PENDING)
    created_at = models.DateTimeField(default=clock.now)
    # Pending: when the next attempt may start (a claimed attempt moves it to its retry time
    # first, so a worker that dies while sending is retried then). NULL once sent or given up.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The due scan (pending, by next attempt) and the figures (pending and failed);
            # sent messages, nearly all of them, stay out of it.
            models.Index(
                fields=["status", "next_attempt_at"],
                name="processes_outbox_unsent",
                condition=Q(status__in=["pending", "failed"]),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status="sent", sent_at__isnull=False) | ~Q(status="sent"),
                name="outbox_sent_has_sent_at",
            )
        ]

    def __str__(self):
        return f"{self.subject} ({self.get_status_display().lower()})"
