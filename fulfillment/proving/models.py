"""The noop bench's own process: the engine's bookkeeping and a state machine, nothing else.

`manage.py bench --workflow noop` runs it through a real cluster to measure what the engine
itself costs per step, without the order domain's rows, guards and simulated services.
"""

from django.db import models
from django_fsm import FSMField, transition

from processes.models.process import Process


class NoopState(models.TextChoices):
    STARTED = "started", "Started"
    ONE = "one", "One step done"
    TWO = "two", "Two steps done"
    THREE = "three", "Three steps done"
    FOUR = "four", "Four steps done"
    DONE = "done", "Done"
    COMPENSATING = "compensating", "Compensating"
    CANCELLED = "cancelled", "Cancelled"


S = NoopState
UNDOABLE = [S.STARTED, S.ONE, S.TWO, S.THREE, S.FOUR]


class NoopProcess(Process):
    """A process of five no-op steps (fulfillment.proving.noop_workflow), one transition each."""

    state = FSMField(default=S.STARTED, choices=S.choices, protected=True)

    class Meta(Process.Meta):
        verbose_name = "bench no-op process"
        verbose_name_plural = "bench no-op processes"

    def __str__(self):
        return f"no-op {self.pk} ({self.state})"

    @transition(field=state, source=S.STARTED, target=S.ONE)
    def mark_one(self):
        """The first no-op call returned."""

    @transition(field=state, source=S.ONE, target=S.TWO)
    def mark_two(self):
        """The second no-op call returned."""

    @transition(field=state, source=S.TWO, target=S.THREE)
    def mark_three(self):
        """The third no-op call returned."""

    @transition(field=state, source=S.THREE, target=S.FOUR)
    def mark_four(self):
        """The fourth no-op call returned."""

    @transition(field=state, source=S.FOUR, target=S.DONE)
    def mark_done(self):
        """The fifth no-op call returned: the process is finished."""

    @transition(field=state, source=UNDOABLE, target=S.COMPENSATING)
    def start_compensation(self):
        """Never taken in a bench (its steps cannot fail); the engine requires one."""

    @transition(field=state, source=S.COMPENSATING, target=S.CANCELLED)
    def mark_cancelled(self):
        """Nothing to undo: the no-op steps leave no effect."""
