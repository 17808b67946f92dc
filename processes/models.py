"""The engine's tables: the abstract process row and the append-only journal.

One row, one lock: everything the engine needs to run a process (current step, attempts, when
it is due, its lease) lives on the process row itself, so a single `SELECT ... FOR UPDATE`
serialises every change to one process.
"""

import copy
import uuid
from datetime import timedelta

from django.core.validators import MaxValueValidator
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin

from processes import clock


class Direction(models.TextChoices):
    FORWARD = "forward", "Forward"
    COMPENSATE = "compensate", "Compensating"


class RunStatus(models.TextChoices):
    READY = "ready", "Ready"  # a step is due, running or backing off
    WAITING = "waiting", "Waiting"  # parked until a signal (a person) or its deadline
    FINISHED = "finished", "Finished"  # completed or fully compensated


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


class Hold(models.TextChoices):
    """What a process waits on at its step, spending no attempts (processes.flow)."""

    CIRCUIT = "circuit", "its circuit"  # open, probing, or paused by hand
    PACE = "pace", "its turn (the service is slowed)"
    LIMIT = "limit", "its turn under the service's published limit"


class Process(FSMModelMixin, models.Model):
    """Abstract base of a durable process: FSM state plus the engine's bookkeeping.

    `next_run_at` is the single "look at me at" time the sweeper scans: the due time of a
    step or retry, the end of a running attempt's lease, or the deadline of a wait. NULL means
    nothing is due (finished, or needs attention).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    state = FSMField(default="new", protected=True)
    workflow_version = models.PositiveIntegerField(default=1)

    step = models.CharField(max_length=64, blank=True)
    direction = models.CharField(max_length=16, choices=Direction, default=Direction.FORWARD)
    run_status = models.CharField(max_length=16, choices=RunStatus, default=RunStatus.READY)
    completed_steps = models.JSONField(default=list, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)

    lease_owner = models.CharField(max_length=128, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    fence = models.PositiveBigIntegerField(default=0)

    last_error = models.TextField(blank=True)
    needs_attention = models.BooleanField(default=False)
    attention_reason = models.TextField(blank=True)
    # The step whose failure raised the flag, or blank when it came from outside (a dispute):
    # only the former is cleared by that step's own success.
    attention_step = models.CharField(max_length=64, blank=True)
    # Since when the current step waits without spending attempts, and on what (`Hold`): its
    # circuit (open, probing or paused by hand), or its turn at a slowed service; NULL and blank
    # when it is not held (processes.flow).
    held_since = models.DateTimeField(null=True, blank=True)
    held_by = models.CharField(max_length=16, choices=Hold, blank=True)
    # The step's flow key it is held under (`Step.flow_key`: a carrier account, ...).
    held_key = models.CharField(max_length=100, blank=True)

    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(default=clock.now)
    state_changed_at = models.DateTimeField(default=clock.now)
    step_started_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        indexes = [
            models.Index(
                fields=["next_run_at"],
                name="%(app_label)s_%(class)s_due",
                condition=Q(next_run_at__isnull=False),
            ),
            models.Index(
                fields=["-updated_at"],
                name="%(app_label)s_%(class)s_attn",
                condition=Q(needs_attention=True),
            ),
            models.Index(fields=["state", "-created_at"], name="%(app_label)s_%(class)s_state"),
            models.Index(
                fields=["step", "held_by", "held_key", "held_since"],
                name="%(app_label)s_%(class)s_held",
                condition=Q(held_since__isnull=False),
            ),
        ]

    def save(self, *args, **kwargs):
        """Save the row; the journal writes the events of its transitions in the same
        transaction, as the row's post_save (processes.journal).

        A row under `track_changes()` writes only the fields that changed since it was loaded
        (or last saved): the engine saves a locked row on every step, and a full-row UPDATE
        costs a quarter more than a narrow one (and would overwrite what a step's record wrote
        to the row with a queryset update)."""
        adding = self._state.adding
        self.updated_at = clock.now()
        loaded = self.__dict__.get("_loaded")
        if loaded is not None and not adding and "update_fields" not in kwargs:
            changed = {name for name, value in self._values().items() if loaded[name] != value}
            kwargs["update_fields"] = changed | {"updated_at"}
        elif update_fields := kwargs.get("update_fields"):
            kwargs["update_fields"] = {*update_fields, "updated_at"}
        super().save(*args, **kwargs)
        if loaded is not None:
            self.track_changes()

    def hold(self, by: str, key: str, now) -> bool:
        """Mark the process as waiting at its step on `by` (a `Hold`) under flow key `key`,
        spending no attempts; False when it already waited on that, since `held_since`."""
        if self.held_by == by and self.held_key == key and self.held_since is not None:
            return False
        self.held_since, self.held_by, self.held_key = now, by, key
        return True

    def stop_holding(self) -> None:
        """The process no longer waits on its step's flow control (it goes, moves on, or a
        person takes over)."""
        self.held_since, self.held_by, self.held_key = None, "", ""

    def track_changes(self) -> None:
        """Remember the row's values, so that the next save() writes only what changes."""
        self.__dict__["_loaded"] = self._values()

    def refresh_from_db(self, *args, **kwargs):
        """Forget the tracked values: compared with fresh ones they could hide a change."""
        self.__dict__.pop("_loaded", None)
        super().refresh_from_db(*args, **kwargs)

    def _values(self) -> dict:
        values = {}
        for field in self._meta.concrete_fields:
            if field.primary_key:
                continue
            value = self.__dict__.get(field.attname)
            values[field.attname] = copy.deepcopy(value) if isinstance(value, list | dict) else value
        return values

    @classmethod
    def label(cls) -> str:
        return cls._meta.label_lower


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


class SweeperLease(models.Model):
    """Who runs the sweeper loop right now: one loop at a time, across all machines."""

    name = models.CharField(max_length=32, primary_key=True)
    owner = models.CharField(max_length=128, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name}: {self.owner or 'free'}"


class WorkerClusterState(models.TextChoices):
    STARTING = "starting", "Starting"
    RUNNING = "running", "Running"
    RESTARTING = "restarting", "Restarting"  # being replaced: wedged, or it exited
    STOPPED = "stopped", "Stopped"


class WorkerCluster(models.Model):
    """One supervised django-q2 cluster, as its supervisor last reported it (every few seconds).

    Written by processes.worker_supervisor, read by /readyz, /metrics and the pages: which
    clusters run where, whether each takes work, and how often one had to be replaced.
    """

    name = models.CharField(max_length=160, unique=True)  # host:supervisor pid
    host = models.CharField(max_length=128)
    queue = models.CharField(max_length=128)  # Q_CLUSTER's name: the broker queue it serves
    state = models.CharField(max_length=16, choices=WorkerClusterState.choices)
    started_at = models.DateTimeField()  # the supervisor's start
    cluster_started_at = models.DateTimeField(null=True, blank=True)  # the current cluster's
    last_seen_at = models.DateTimeField()
    # The latest task taken from the broker, started by a worker, recorded as finished.
    last_pulled_at = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    workers_busy = models.PositiveIntegerField(default=0)
    workers_idle = models.PositiveIntegerField(default=0)
    restarts = models.PositiveIntegerField(default=0)  # replaced: wedged, or it exited
    wedges = models.PositiveIntegerField(default=0)  # of which wedged
    last_restart_at = models.DateTimeField(null=True, blank=True)
    last_restart_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["host", "name"]

    def __str__(self):
        return f"{self.name} ({self.state})"

    def condition(self, now, silent_after: float) -> str:
        """Its state, or "silent" when its supervisor stopped reporting without saying it stopped
        (killed, or its machine gone)."""
        quiet = (now - self.last_seen_at).total_seconds()
        if self.state != WorkerClusterState.STOPPED and quiet > silent_after:
            return "silent"
        return self.state

    @classmethod
    def recent(cls, now, within: float = 600.0):
        """The clusters that reported in the last `within` seconds (older rows are history)."""
        return cls.objects.filter(last_seen_at__gte=now - timedelta(seconds=within))


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


class RolloutSetting(models.Model):
    """The share of new processes of one workflow that start on its newest version.

    Operators change it at run time in the admin; no row means 0 %: a newly deployed version
    takes no new process until someone raises its share. The others start on the version
    before it. Which processes get the newest is decided by a stable hash bucket of a key
    (processes.versions), so raising the share only moves keys from old to new.
    """

    workflow = models.CharField(max_length=100, unique=True, help_text="The process model's label.")
    percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(100)],
        help_text="Share of new processes (0–100) that start on the newest version.",
    )
    updated_at = models.DateTimeField(default=clock.now)
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(percent__lte=100), name="rollout_percent_at_most_100")
        ]

    def __str__(self):
        return f"{self.workflow}: {self.percent} % on the newest version"


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
