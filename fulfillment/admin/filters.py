"""The order and return lists' own filters: stuck processes and the current step, both without a
query of their own (their choices come from the workflow, not from a DISTINCT over the table)."""

from django.contrib import admin

from fulfillment.monitoring import step_choices, stuck_q
from fulfillment.returns.workflow import RETURN_STEPS
from fulfillment.workflow import ORDER_STEPS


class StuckFilter(admin.SimpleListFilter):
    """Needs attention, or in its current step longer than the step's expected duration."""

    title = "stuck"
    parameter_name = "stuck"
    steps = ORDER_STEPS

    def lookups(self, request, model_admin):
        return [("yes", "Stuck"), ("attention", "Needs attention")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(stuck_q(steps=self.steps))
        if self.value() == "attention":
            return queryset.filter(needs_attention=True)
        return queryset


class StepFilter(admin.SimpleListFilter):
    """The step the order is at (forward or undoing); finished orders are at none."""

    title = "current step"
    parameter_name = "step"
    steps = ORDER_STEPS

    def lookups(self, request, model_admin):
        return [*step_choices(self.steps), ("none", "none (finished)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(step="")
        if value:
            return queryset.filter(step=value)
        return queryset


class ReturnStuckFilter(StuckFilter):
    """Stuck returns: needs attention, or longer in a return step than it should take."""

    steps = RETURN_STEPS


class ReturnStepFilter(StepFilter):
    """The return step a return is at."""

    steps = RETURN_STEPS
