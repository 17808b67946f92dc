"""Events from outside delivered to a process, kept until it consumes them (processes.inbox)."""

from django.db import models
from django.db.models import Q

from processes import clock


class ProcessMessage(models.Model):
    """An event from outside (a provider's webhook, ...) delivered to a process.

    Kept whether or not the process can use it yet: the workflow's `on_message` handler
    consumes it under the row lock, now or later. `dedup_key` makes redelivery harmless.
    """

    process_type = models.CharField(max_length=100)
    process_id = models.UUIDField()
    name = models.CharField(max_length=64)
    dedup_key = models.CharField(max_length=200, unique=True)
    payload = models.JSONField(default=dict, blank=True)
    received_at = models.DateTimeField(default=clock.now)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["process_id", "received_at"],
                name="processes_message_pending",
                condition=Q(consumed_at__isnull=True),
            )
        ]

    def __str__(self):
        return f"{self.name} for {self.process_id}"
