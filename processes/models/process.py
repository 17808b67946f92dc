"""The abstract process row: one row, one lock.

Everything the engine needs to run a process (current step, attempts, when it is due, its
lease) lives on the process row itself, so a single `SELECT ... FOR UPDATE` serialises every
change to one process. A domain's model extends `Process`; the journal writes the events of
its transitions when it is saved (processes.journal).
"""

import uuid

from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin

from processes import clock


class Direction(models.TextChoices):
    FORWARD = "forward", "Forward"
    COMPENSATE = "compensate", "Compensating"
    # Undoing one step to do it again with new data (processes.redo), then forward again.
    REDO = "redo", "Undoing a step to redo it"


class RunStatus(models.TextChoices):
    READY = "ready", "Ready"  # a step is due, running or backing off
    WAITING = "waiting", "Waiting"  # parked until a signal (a person) or its deadline
    FINISHED = "finished", "Finished"  # completed or fully compensated


class Hold(models.TextChoices):
    """What a process waits on at its step, spending no attempts (processes.flow)."""

    CIRCUIT = "circuit", "its circuit"  # open, probing, or paused by hand
    PACE = "pace", "its turn (the service is slowed)"
    LIMIT = "limit", "its turn under the service's published limit"


def listed_by_state_index() -> models.Index:
    """The index of a console that lists a domain's processes in one state, newest first.

    Not one of the engine's own: the engine never looks a process up by its state, and an
    index on `state` takes an entry on every step (the state changes at each, so no update of
    the row is HOT), a sixteenth of a no-op workflow's WAL. A domain whose pages filter by
    state adds it to its model's indexes (fulfillment's Order and Return do)."""
    return models.Index(fields=["state", "-created_at"], name="%(app_label)s_%(class)s_state")


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
    # How many times each step was redone ({step: count}, processes.redo): a redone step's
    # idempotency keys carry the count, so its new call is told from the one it replaces.
    redo_counts = models.JSONField(default=dict, blank=True)
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
    # When the current attention episode began (processes.attention), for "needs attention
    # since"; NULL when the process does not need attention.
    attention_since = models.DateTimeField(null=True, blank=True)
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
            kwargs["update_fields"] = self.changed_fields()
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

    def changed_fields(self) -> set[str]:
        """The fields of a row under `track_changes()` that changed since it was loaded (or
        last saved), and `updated_at`, which every save sets."""
        loaded = self.__dict__["_loaded"]
        return {name for name, value in self._values().items() if loaded[name] != value} | {"updated_at"}

    def track_changes(self) -> None:
        """Remember the row's values, so that the next save() writes only what changes."""
        self.__dict__["_loaded"] = self._values()

    def refresh_from_db(self, *args, **kwargs):
        """Forget the tracked values: compared with fresh ones they could hide a change."""
        self.__dict__.pop("_loaded", None)
        super().refresh_from_db(*args, **kwargs)

    def _values(self) -> dict:
        """The row's column values by attribute name, its JSON values copied (a step may change
        a list in place). Taken three times per transaction of the engine, so kept cheap: the
        names are listed once per model, and JSON is copied by `_json_copy`, not `deepcopy`."""
        row = self.__dict__
        values = {name: row.get(name) for name in _tracked_names(type(self))}
        for name, value in values.items():
            if isinstance(value, list | dict):
                values[name] = _json_copy(value)
        return values

    @classmethod
    def label(cls) -> str:
        return cls._meta.label_lower


_TRACKED_NAMES: dict[type, tuple[str, ...]] = {}


def _tracked_names(model: type) -> tuple[str, ...]:
    """The attribute names of `model`'s concrete fields but its primary key, listed once."""
    names = _TRACKED_NAMES.get(model)
    if names is None:
        names = tuple(field.attname for field in model._meta.concrete_fields if not field.primary_key)
        _TRACKED_NAMES[model] = names
    return names


def _json_copy(value):
    """A copy of decoded JSON (dicts, lists and scalars) that shares nothing mutable with it:
    what `copy.deepcopy` gives for such data, at a fraction of its cost (no memo, no dispatch)."""
    if isinstance(value, dict):
        return {key: _json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_copy(item) for item in value]
    return value
