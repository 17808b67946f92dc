"""The simulated services' own ledgers, written only through the `simulators` connection.

They are the remote side's truth: what was charged, refunded, labelled and mailed, whatever our
own tables say. Uniqueness lives in the database so that racing calls produce one effect.
"""

from datetime import datetime

from django.db import models

SIMULATORS_DB = "simulators"


class Service(models.TextChoices):
    PAYMENT = "payment", "Payment gateway"
    CARRIER = "carrier", "Carrier"
    MAIL = "mail", "Mail"


class Operation(models.TextChoices):
    CHARGE = "charge", "Charge"
    REFUND = "refund", "Refund"
    CREATE_LABEL = "create_label", "Create label"
    VOID_LABEL = "void_label", "Void label"
    SEND = "send", "Send mail"


class IdempotencyRecord(models.Model):
    """The stored answer to the first call made with a key, replayed to every later call.

    `request_hash` detects a key reused with a different request. `error` is set when the stored
    answer is a refusal (a decline), which replays as the same exception.
    """

    service = models.CharField(max_length=16, choices=Service.choices)
    key = models.CharField(max_length=255)
    operation = models.CharField(max_length=16, choices=Operation.choices)
    request_hash = models.CharField(max_length=64)
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    response = models.JSONField(default=dict)
    error = models.CharField(max_length=32, blank=True)
    error_message = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "key"], name="sim_idempotency_key_unique"),
        ]

    def __str__(self):
        return f"{self.service}:{self.key}"


class ChargeRecord(models.Model):
    """One charge attempt as the gateway saw it; declined attempts are kept with their reason."""

    class Status(models.TextChoices):
        SUCCEEDED = "succeeded", "Succeeded"
        DECLINED = "declined", "Declined"

    charge_id = models.CharField(max_length=40, unique=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    reference = models.CharField(max_length=64, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    currency = models.CharField(max_length=3)
    token = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices)
    decline_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.charge_id} {self.amount} {self.currency} ({self.status})"


class RefundRecord(models.Model):
    """A refund of one charge: a part of it (a return), or in full whatever is left of it.

    At most one full refund per charge (a partial unique constraint), so a cancelled order is
    refunded once however many keys ask; partial refunds never add up to more than the charge
    (checked under the charge's row lock).
    """

    refund_id = models.CharField(max_length=40, unique=True)
    charge = models.ForeignKey(ChargeRecord, on_delete=models.PROTECT, related_name="refunds")
    idempotency_key = models.CharField(max_length=255, unique=True)
    reference = models.CharField(max_length=64, db_index=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    full = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["charge"], condition=models.Q(full=True), name="sim_one_full_refund"
            )
        ]

    def __str__(self):
        return f"{self.refund_id} {self.amount}"


class LabelRecord(models.Model):
    """A shipping label the carrier issued; `voided_at` is set once, by the first void."""

    tracking_number = models.CharField(max_length=14, unique=True)
    idempotency_key = models.CharField(max_length=255, unique=True)
    reference = models.CharField(max_length=64, db_index=True)
    address = models.JSONField(default=dict)
    weight_grams = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    voided_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.tracking_number


class SentMail(models.Model):
    """A message the mailbox accepted, once per Message-ID; later offers only bump a counter."""

    message_id = models.CharField(max_length=255, unique=True)
    reference = models.CharField(max_length=64, blank=True, db_index=True)
    subject = models.CharField(max_length=255, blank=True)
    from_email = models.CharField(max_length=255, blank=True)
    recipients = models.JSONField(default=list)
    body = models.TextField(blank=True)
    duplicate_offers = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.message_id} {self.subject}"


class FaultRule(models.Model):
    """A fault to inject into the next `remaining` matching calls, for tests and chaos runs.

    A blank `reference` (or `account`) matches any call; a rule naming a reference is preferred
    over a blank one. A rule naming an account strikes only the calls made for that account (one
    merchant's carrier account that is broken).
    """

    class Mode(models.TextChoices):
        UNAVAILABLE = "unavailable", "Unavailable (refused before any effect)"
        TIMEOUT_AFTER_EFFECT = "timeout_after_effect", "Timeout after the effect"
        TIMEOUT_BEFORE_EFFECT = "timeout_before_effect", "Timeout before any effect"

    service = models.CharField(max_length=16, choices=Service.choices)
    operation = models.CharField(max_length=16, choices=Operation.choices)
    mode = models.CharField(max_length=32, choices=Mode.choices)
    remaining = models.PositiveIntegerField(default=1)
    reference = models.CharField(max_length=64, blank=True)
    account = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["service", "operation"], name="sim_faultrule_lookup")]

    def __str__(self):
        target = self.reference or "any"
        return f"{self.service}.{self.operation} {self.mode} x{self.remaining} ({target})"


class Outage(models.Model):
    """A service switched off by hand (the admin, the soak, a test), one row per service.

    While `on`, and until `until` if set, every call to the service is refused before any effect.
    `since` is when the switch last changed, `by` who changed it and `reason` why the service was
    last taken down. `last_down_since` and `last_up_at` keep the latest outage's span after the
    service is back, so the board can still count what it refused. SIM_OUTAGE takes services
    down without a row (fulfillment.simulators.outages).
    """

    service = models.CharField(max_length=16, choices=Service.choices, unique=True)
    on = models.BooleanField(default=False)
    since = models.DateTimeField()
    until = models.DateTimeField(null=True, blank=True)
    by = models.CharField(max_length=150, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    last_down_since = models.DateTimeField(null=True, blank=True)
    last_up_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("switch_outage", "Can switch a simulated service's outage on and off")]

    def __str__(self):
        return f"{self.service} {'down' if self.on else 'up'} since {self.since:%Y-%m-%d %H:%M:%S}"

    def is_down(self, now) -> bool:
        return self.on and (self.until is None or now < self.until)

    def last_outage(self, now) -> tuple[datetime, datetime] | None:
        """The latest outage that has ended, from when to when: brought back, or its `until` passed."""
        if self.is_down(now) or self.last_down_since is None:
            return None
        ended = self.last_up_at or self.until
        return (self.last_down_since, ended) if ended else None


class RefusedCall(models.Model):
    """A call the service received and turned away before any effect, and why.

    The remote side's own count of what it refused: a test or the soak reads "the carrier
    refused N calls during the outage" here, whatever our retries and journal say.
    """

    class Reason(models.TextChoices):
        OUTAGE = "outage", "Outage"
        FAULT_RULE = "fault_rule", "Fault rule (unavailable)"
        TIMEOUT = "timeout", "Fault rule (timeout before any effect)"
        RANDOM = "random", "Random transient error"
        ISSUER = "issuer", "Flaky card's issuer"
        ADDRESS = "address", "Undeliverable address"
        DEGRADED = "degraded", "Degraded service (random share)"

    service = models.CharField(max_length=16, choices=Service.choices)
    operation = models.CharField(max_length=16, choices=Operation.choices)
    reference = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    reason = models.CharField(max_length=16, choices=Reason.choices)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["service", "at"], name="sim_refusedcall_service_at")]

    def __str__(self):
        return f"{self.service}.{self.operation} refused ({self.reason}) at {self.at:%H:%M:%S}"


class ReceivedCall(models.Model):
    """Every call a service received, refused ones included: its access log.

    The remote side's own record of when each call arrived, read by tests and the soak to say
    "the carrier received N calls during the outage" or "never more than 5 in any second",
    whatever our journal says.
    """

    service = models.CharField(max_length=16, choices=Service.choices)
    operation = models.CharField(max_length=16, choices=Operation.choices)
    account = models.CharField(max_length=64, blank=True)
    reference = models.CharField(max_length=64, blank=True)
    idempotency_key = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["service", "at"], name="sim_receivedcall_service_at")]

    def __str__(self):
        return f"{self.service}.{self.operation} at {self.at:%H:%M:%S.%f}"
