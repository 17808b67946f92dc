"""The order list's own filters: stuck orders and the current step, both without a query of
their own (their choices come from the workflow, not from a DISTINCT over the table)."""

from django.contrib import admin

from fulfillment.monitoring import step_choices, stuck_q


class StuckFilter(admin.SimpleListFilter):
    """Needs attention, or in its current step longer than the step's expected duration."""

    title = "stuck"
    parameter_name = "stuck"

    def lookups(self, request, model_admin):
        return [("yes", "Stuck"), ("attention", "Needs attention")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(stuck_q())
        if self.value() == "attention":
            return queryset.filter(needs_attention=True)
        return queryset


class StepFilter(admin.SimpleListFilter):
    """The step the order is at (forward or undoing); finished orders are at none."""

    title = "current step"
    parameter_name = "step"

    def lookups(self, request, model_admin):
        return [*step_choices(), ("none", "none (finished)")]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(step="")
        if value:
            return queryset.filter(step=value)
        return queryset
