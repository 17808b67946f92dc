"""What the API remembers besides orders: the idempotency keys clients sent with their POSTs."""

from django.conf import settings
from django.db import models

from processes import clock


class IdempotencyRecord(models.Model):
    """One client's idempotency key and the order its first request placed.

    The row is inserted in the same transaction as the order, under the unique constraint on
    (client, key): of two requests racing with one key, the second waits for the first to
    commit and then answers with its order. `fingerprint` (SHA-256 of the canonical JSON body)
    tells a retry of the same request from a different request that reuses the key.
    """

    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    order = models.ForeignKey("fulfillment.Order", null=True, on_delete=models.CASCADE, related_name="+")
    status_code = models.PositiveSmallIntegerField(default=201)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="api_idempotency_key_per_client")
        ]
        indexes = [models.Index(fields=["created_at"], name="api_idempotency_created")]

    def __str__(self):
        return f"{self.key} of client {self.client_id}"
