"""The append-only journal: every transition and action on a process, every attempt at a step.

Written in the transaction of the change it describes (processes.journal, processes.runner),
never changed afterwards; processes.pruning deletes the detail of long-finished processes.
"""

from django.db import models

from processes import clock
from processes.models.process import Direction


class ActorType(models.TextChoices):
    SYSTEM = "system", "System"
    OPERATOR = "operator", "Operator"
    WORKER = "worker", "Warehouse worker"
    CLIENT = "client", "API client"


class EventKind(models.TextChoices):
    TRANSITION = "transition", "Transition"
    RETRY_SCHEDULED = "retry", "Retry scheduled"
    ATTENTION = "attention", "Needs attention"
    LEASE_EXPIRED = "lease_expired", "Lease expired"
    OPERATOR_ACTION = "operator", "Operator action"
    NOTE = "note", "Note"
    CIRCUIT = "circuit", "Held by a circuit"


class ProcessEvent(models.Model):
    """Append-only journal entry: a transition or another action taken on a process."""

    process_type = models.CharField(max_length=100)
    process_id = models.UUIDField()
    kind = models.CharField(max_length=16, choices=EventKind, default=EventKind.TRANSITION)
    from_state = models.CharField(max_length=64, blank=True)
    to_state = models.CharField(max_length=64, blank=True)
    transition = models.CharField(max_length=64, blank=True)
    step = models.CharField(max_length=64, blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType, default=ActorType.SYSTEM)
    actor = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        indexes = [models.Index(fields=["process_id", "created_at", "id"], name="processes_event_timeline")]
        ordering = ["created_at", "id"]

    def __str__(self):
        if self.kind == EventKind.TRANSITION:
            return f"{self.from_state or '∅'} → {self.to_state}: {self.reason}"
        return f"{self.get_kind_display()}: {self.reason}"


class AttemptOutcome(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    LEASE_LOST = "lease_lost", "Lease lost (result discarded)"
    ABANDONED = "abandoned", "Abandoned (worker gone)"


class StepAttempt(models.Model):
    """Append-only record of one attempt at a step (or its compensation)."""

    process_type = models.CharField(max_length=100)
    process_id = models.UUIDField()
    step = models.CharField(max_length=64)
    direction = models.CharField(max_length=16, choices=Direction, default=Direction.FORWARD)
    attempt = models.PositiveIntegerField()
    idempotency_key = models.CharField(max_length=200)
    worker = models.CharField(max_length=128, blank=True)
    fence = models.PositiveBigIntegerField(default=0)
    started_at = models.DateTimeField(default=clock.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=AttemptOutcome, default=AttemptOutcome.RUNNING)
    error_class = models.CharField(max_length=200, blank=True)
    error_message = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # What the step's call returned (a charge, a label), as JSON, capped at MAX_PAYLOAD_BYTES.
    result = models.JSONField(null=True, blank=True)
    # The attempt failed in a way that says the service is unwell (a retryable error or an
    # ambiguous timeout): what a step's circuit breaker counts. A refusal is not one.
    service_failed = models.BooleanField(default=False)
    # The step's flow key for this call (`Step.flow_key`: a carrier account, ...): its health,
    # circuit and limits are kept per key.
    flow_key = models.CharField(max_length=100, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["process_id", "started_at", "id"], name="processes_attempt_timeline"),
            models.Index(fields=["started_at", "step"], name="processes_attempt_recent"),
        ]
        ordering = ["started_at", "id"]

    def __str__(self):
        return f"{self.step} #{self.attempt} ({self.direction}): {self.outcome}"
