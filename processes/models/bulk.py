"""Bulk operations: one operator action over a frozen list of processes, run in the background.

An operation's items are its processes, one row each, frozen when the operator confirms; the
runner (processes.bulk) writes each item's outcome in the transaction that acts on its process,
so a runner killed and started again acts on every process once. While its operation is not
over an item is `active`, and a process may be active in one operation only (the partial unique
constraint): a second operation over the same process refuses it, saying which one holds it.
"""

from django.db import models
from django.db.models import Q

from processes import clock


class BulkState(models.TextChoices):
    RUNNING = "running", "Running"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"
    DONE = "done", "Done"


class ItemOutcome(models.TextChoices):
    PENDING = "pending", "Not yet"
    DONE = "done", "Done"
    REFUSED = "refused", "Refused"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Not acted on (cancelled)"


class BulkOperation(models.Model):
    """One action (`action`, with its `arguments`) over many processes of one type, asked for by
    `requested_by` with a `reason` that every process's journal repeats with the operation's id."""

    process_type = models.CharField(max_length=100)
    action = models.CharField(max_length=32)
    arguments = models.JSONField(default=dict, blank=True)
    reason = models.TextField()
    requested_by = models.CharField(max_length=150)
    requested_at = models.DateTimeField(default=clock.now)
    # Which filter chose the processes, in words (for the progress page and the log).
    selection = models.TextField(blank=True)
    state = models.CharField(max_length=16, choices=BulkState, default=BulkState.RUNNING)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    refused = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # The runner's lease: a running operation that has not reported for BULK_STALE seconds
    # lost its task (a killed worker), and the sweeper enqueues it again.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    summary = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(
                fields=["heartbeat_at"],
                condition=Q(finished_at__isnull=True),
                name="bulk_operation_unfinished",
            )
        ]

    def __str__(self):
        return f"bulk operation {self.pk}: {self.action} of {self.total}"

    @property
    def left(self) -> int:
        return max(self.total - self.done - self.refused - self.failed, 0)

    @property
    def finished(self) -> bool:
        return self.finished_at is not None

    def percent(self) -> int:
        return 100 if not self.total else round(100 * (self.total - self.left) / self.total)


class BulkItem(models.Model):
    """One process of a bulk operation and what the operation did to it."""

    operation = models.ForeignKey(BulkOperation, on_delete=models.CASCADE, related_name="items")
    process_id = models.UUIDField()
    outcome = models.CharField(max_length=16, choices=ItemOutcome, default=ItemOutcome.PENDING)
    message = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    acted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["process_id"], condition=Q(active=True), name="bulk_item_one_operation_per_process"
            ),
            models.UniqueConstraint(fields=["operation", "process_id"], name="bulk_item_once_per_operation"),
        ]
        indexes = [models.Index(fields=["operation", "outcome"], name="bulk_item_by_outcome")]

    def __str__(self):
        return f"{self.process_id}: {self.outcome}"
