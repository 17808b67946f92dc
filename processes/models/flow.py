"""The tables of flow control (processes.flow): a circuit per step and flow key, its history and
its redrives, and the shared state of a service's published limit.
"""

from django.db import IntegrityError, models, transaction
from django.db.models import Q

from processes import clock


def lock_or_create(model, **unique):
    """The row with these unique fields, locked in the caller's transaction (made first if
    missing; racing makers get the same row)."""
    try:
        with transaction.atomic():
            model.objects.get_or_create(**unique)
    except IntegrityError:
        pass  # made by someone else just now
    return model.objects.select_for_update().get(**unique)


def where(step: str, key: str) -> str:
    """A step, and its flow key when it has one: `create_label · ACME-1`."""
    return f"{step} · {key}" if key else step


class CircuitState(models.TextChoices):
    CLOSED = "closed", "Closed"  # calls go through
    OPEN = "open", "Open"  # too many failures: the step waits until a probe may go
    HALF_OPEN = "half_open", "Probing"  # processes try the service, one at a time
    PAUSED = "paused", "Paused by hand"  # an operator holds the step (a maintenance window)


class Circuit(models.Model):
    """The circuit breaker of one step of one workflow, shared by every worker on every machine.

    Its state changes by conditional UPDATEs on this row inside the claim or apply transaction,
    so two workers never both open it or both send a probe. See processes.flow.
    """

    process_type = models.CharField(max_length=100)
    step = models.CharField(max_length=64)
    # The flow key (`Step.flow_key`: a carrier account, ...) whose calls it stops; blank for a
    # step that keeps one circuit for all.
    key = models.CharField(max_length=100, blank=True, default="")
    state = models.CharField(max_length=16, choices=CircuitState, default=CircuitState.CLOSED)
    # When the current incident began (first opening or pause); kept until it closes.
    incident_since = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)
    # Open: when the next probe may go; the cool-down grows with `trips` up to the policy's cap.
    probe_at = models.DateTimeField(null=True, blank=True)
    trips = models.PositiveIntegerField(default=0)
    probe_process = models.UUIDField(null=True, blank=True)
    probe_until = models.DateTimeField(null=True, blank=True)
    # Probes of this half-open round that failed as a sick service fails; the policy's
    # `probes` of them in a row re-open the circuit.
    probe_failures = models.PositiveSmallIntegerField(default=0)
    paused_until = models.DateTimeField(null=True, blank=True)
    paused_by = models.CharField(max_length=150, blank=True)
    # After it closes, held processes go one per slot: the next free slot.
    release_next_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Closed after an alerted opening: the "closed" alert goes out at this time if it stays
    # closed until then; opening again before it continues the same incident, silently.
    close_alert_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["process_type", "step", "key"], name="circuit_one_per_step_and_key"
            )
        ]
        verbose_name = "incident"
        verbose_name_plural = "incidents"
        # Each operator action on an incident is a permission of its own.
        permissions = [
            ("pause_circuit", "Can pause a step for every process"),
            ("resume_circuit", "Can resume a paused or open step"),
            ("redrive_circuit", "Can redrive the processes of a step that need attention"),
        ]

    def __str__(self):
        return f"{self.process_type} {self.where}: {self.get_state_display()}"

    @property
    def where(self) -> str:
        return where(self.step, self.key)


class ServiceLimiter(models.Model):
    """The shared state of one published service limit, per flow key (processes.flow.limits).

    Changed only under its row lock, in the transaction that claims a call, so every worker on
    every machine sees the same calls: at most `calls` admitted in any window, at most
    `concurrency` in flight."""

    service = models.CharField(max_length=100)
    key = models.CharField(max_length=100, blank=True, default="")
    # When the latest admitted calls were admitted (epoch seconds, oldest first), at most as
    # many as the limit's `calls`.
    recent = models.JSONField(default=list, blank=True)
    # The next free slot handed to a call that must wait for the rate, so that waiting calls
    # come back one per slot instead of all at once.
    next_slot_at = models.DateTimeField(null=True, blank=True)
    # The calls in flight: {process id: when its lease ends (epoch seconds)}; a worker that
    # died gives its place back when its lease ends.
    permits = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "key"], name="limiter_one_per_service_and_key")
        ]

    def __str__(self):
        return f"{self.service} · {self.key}" if self.key else self.service


class CircuitEventKind(models.TextChoices):
    OPENED = "opened", "Opened"
    REOPENED = "reopened", "Re-opened after a failed probe"
    PROBE = "probe", "Probe sent"
    PROBE_FAILED = "probe_failed", "Probe failed"
    CLOSED = "closed", "Closed"
    PAUSED = "paused", "Paused by hand"
    RESUMED = "resumed", "Resumed"
    ALERT = "alert", "Alert raised"  # its email is in the outbox (processes.outbox)
    REDRIVE = "redrive", "Redrive"


class CircuitEvent(models.Model):
    """The history of a circuit: openings, probes, closings, pauses, alerts, redrives."""

    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=CircuitEventKind)
    actor = models.CharField(max_length=150, blank=True)
    detail = models.TextField(blank=True)
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["circuit", "-created_at"], name="processes_circuit_history")]

    def __str__(self):
        return f"{self.get_kind_display()}: {self.detail}"


class Redrive(models.Model):
    """A bulk retry of the processes of one step that need attention, run in the background.

    At most one runs per step (the partial unique constraint), so a second click joins the
    first. Its batches commit one by one and its task can be killed and started again: a
    process it already retried no longer needs attention and is not taken twice.
    """

    circuit = models.ForeignKey(Circuit, on_delete=models.CASCADE, related_name="redrives")
    requested_by = models.CharField(max_length=150)
    reason = models.TextField()
    requested_at = models.DateTimeField(default=clock.now)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["circuit"], condition=Q(finished_at__isnull=True), name="redrive_one_running_per_step"
            )
        ]

    def __str__(self):
        return f"redrive of {self.circuit.step}: {self.done}/{self.total}"
