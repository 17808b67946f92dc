"""What the API remembers besides orders: the idempotency keys clients sent with their POSTs."""

from django.conf import settings
from django.db import models

from processes import clock


class IdempotencyRecord(models.Model):
    """One client's idempotency key and the order (or return) its first request made.

    The row is inserted in the same transaction as the order, under the unique constraint on
    (client, key): of two requests racing with one key, the second waits for the first to
    commit and then answers with its order. `fingerprint` (SHA-256 of the canonical JSON body)
    tells a retry of the same request from a different request that reuses the key.
    """

    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)
    order = models.ForeignKey("fulfillment.Order", null=True, on_delete=models.CASCADE, related_name="+")
    # Or the return its first request made (POST /api/orders/{id}/returns/); one of the two once
    # the request committed, neither while it is being made.
    ret = models.ForeignKey("fulfillment.Return", null=True, on_delete=models.CASCADE, related_name="+")
    status_code = models.PositiveSmallIntegerField(default=201)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["client", "key"], name="api_idempotency_key_per_client")
        ]
        indexes = [models.Index(fields=["created_at"], name="api_idempotency_created")]

    def __str__(self):
        return f"{self.key} of client {self.client_id}"


class RateWindow(models.Model):
    """One rate limit's count for one client in one fixed window (fulfillment.api.rate_windows).

    Written by a single `INSERT … ON CONFLICT … RETURNING` per request, so concurrent requests
    each see their own count. Only used when the limits count in the database (no Redis); rows
    whose window ended are deleted in passing.
    """

    key = models.CharField(max_length=255, primary_key=True)
    hits = models.PositiveIntegerField(default=0)
    ends_at = models.BigIntegerField(db_index=True, help_text="Unix time the window ends.")

    def __str__(self):
        return f"{self.key}: {self.hits}"


class ThrottleUnavailable(models.Model):
    """Rate-limit checks let pass because the limit could not be counted (its Redis was down).

    One row per limit's scope, kept in the database because /metrics reads every figure there:
    fulfillment_api_throttle_unavailable_total.
    """

    scope = models.CharField(max_length=64, unique=True)
    requests = models.PositiveBigIntegerField(default=0, help_text="Checks let pass uncounted.")
    last_at = models.DateTimeField(default=clock.now)

    def __str__(self):
        return f"{self.scope}: {self.requests} let through uncounted"
