"""The list of every redrive, newest first: who retried which step's processes, when, why, how
many it retried and how many it left to others.

Redrives are started from a step's page (processes.incident_actions) and written only by
processes.flow, so the list is read-only; each row leads to its step's page, which shows the
step's latest redrive, its history and its actions. Its own view permission, which both of the
console's roles hold, lets a person see it; the Incidents page and each step's page link here.
"""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.utils.html import format_html

from processes.incidents_admin import step_url
from processes.models.flow import Redrive
from processes.read_only_admin import ReadOnlyAdmin
from processes.workflow import registry


class RunningFilter(admin.SimpleListFilter):
    """Running (its task still retrying) or finished."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("running", "Running"), ("finished", "Finished")]

    def queryset(self, request, queryset):
        if self.value() in ("running", "finished"):
            return queryset.filter(finished_at__isnull=self.value() == "running")
        return queryset


class WorkflowFilter(admin.SimpleListFilter):
    """By workflow, named as its process model names its rows (Orders, Returns)."""

    title = "workflow"
    parameter_name = "workflow"

    def lookups(self, request, model_admin):
        labels = Redrive.objects.values_list("circuit__process_type", flat=True).distinct()
        return [(label, _workflow_name(label)) for label in sorted(labels)]

    def queryset(self, request, queryset):
        return queryset.filter(circuit__process_type=self.value()) if self.value() else queryset


def _workflow_name(label: str) -> str:
    """ "Orders" for "fulfillment.order"; the label itself for a workflow no longer registered."""
    try:
        return str(registry.model_class(label)._meta.verbose_name_plural).capitalize()
    except (KeyError, LookupError):
        return label


@admin.register(Redrive)
class RedriveAdmin(ReadOnlyAdmin):
    """Every redrive of every step: find one again after leaving its step's page."""

    list_display = ["started", "by", "where", "state", "done_of_total", "left_locked", "reason", "finished"]
    list_display_links = None  # "started" links to the step's page, not to a change form
    list_filter = [RunningFilter, WorkflowFilter, "circuit__step"]
    search_fields = ["reason", "requested_by"]
    search_help_text = "Words of the reason, or the operator's user name."
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("circuit")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """A row's page is its step's page (its latest redrive, its history, its actions)."""
        redrive = self.get_object(request, object_id)
        if redrive is None or not self.has_view_permission(request, redrive):
            return super().change_view(request, object_id, form_url, extra_context)
        circuit = redrive.circuit
        return HttpResponseRedirect(step_url(circuit.process_type, circuit.step, circuit.key))

    def changelist_view(self, request, extra_context=None):
        extra = {"title": "Redrives", "is_nav_sidebar_enabled": False, **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    @admin.display(description="started", ordering="requested_at")
    def started(self, redrive):
        circuit = redrive.circuit
        return format_html(
            '<a href="{}" title="Its step: condition, history, actions">{}</a>',
            step_url(circuit.process_type, circuit.step, circuit.key),
            f"{redrive.requested_at:%Y-%m-%d %H:%M} UTC",
        )

    @admin.display(description="by", ordering="requested_by")
    def by(self, redrive):
        return redrive.requested_by

    @admin.display(description="step", ordering="circuit__step")
    def where(self, redrive):
        circuit = redrive.circuit
        key = f" ({circuit.key})" if circuit.key else ""
        return format_html(
            "{}{}<br><small>{}</small>", circuit.step, key, _workflow_name(circuit.process_type)
        )

    @admin.display(description="state")
    def state(self, redrive):
        return "Running" if redrive.finished_at is None else "Finished"

    @admin.display(description="done / total")
    def done_of_total(self, redrive):
        return f"{redrive.done} / {redrive.total}"

    @admin.display(description="left locked", ordering="skipped")
    def left_locked(self, redrive):
        """Processes others held when it ended (a second redrive retries them)."""
        return redrive.skipped

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, redrive):
        return f"{redrive.finished_at:%Y-%m-%d %H:%M} UTC" if redrive.finished_at else "–"
