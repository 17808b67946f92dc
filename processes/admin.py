"""The engine's journal, read-only: transitions, notes and every attempt at a step; the
outbox of emails to people and the worker clusters' reports, also read-only; the rollout of a
workflow's newest version. The Incidents page is processes.incidents_admin, the list of
redrives processes.redrives_admin.

Append-only by design, so nobody may add, change or delete a row here. The operator
dashboard links to the attempts filtered by step, direction and time.
"""

import uuid

from django import forms
from django.contrib import admin

import processes.incidents_admin  # noqa: F401  (the Incidents page: importing it registers it)
import processes.redrives_admin  # noqa: F401  (the list of redrives: importing it registers it)
from processes import clock, conf
from processes.models.journal import ProcessEvent, StepAttempt
from processes.models.outbox import OutboxMessage
from processes.models.rollout import RolloutSetting
from processes.models.workers import WorkerCluster
from processes.read_only_admin import ReadOnlyAdmin
from processes.workflow import registry


class JournalAdmin(ReadOnlyAdmin):
    """Rows of one append-only journal, searched by the process's id."""

    search_fields = ["process_id"]
    search_help_text = "A process id (a whole UUID)."
    show_full_result_count = False

    def get_search_results(self, request, queryset, search_term):
        try:
            process_id = uuid.UUID(search_term.strip())
        except ValueError:
            return (queryset.none() if search_term.strip() else queryset), False
        return queryset.filter(process_id=process_id), False


@admin.register(ProcessEvent)
class ProcessEventAdmin(JournalAdmin):
    list_display = ["created_at", "process_id", "kind", "from_state", "to_state", "step", "actor", "reason"]
    list_filter = ["kind", "actor_type", "process_type"]


@admin.register(StepAttempt)
class StepAttemptAdmin(JournalAdmin):
    list_display = [
        "started_at",
        "process_id",
        "step",
        "direction",
        "attempt",
        "outcome",
        "error_class",
        "duration_ms",
    ]
    list_filter = ["outcome", "direction", "step", "process_type"]


@admin.register(OutboxMessage)
class OutboxMessageAdmin(ReadOnlyAdmin):
    """The emails to people (alerts, pick warnings), newest first: pending ones with their
    next attempt and last error, and those the outbox gave up on, which a person must read."""

    list_display = [
        "created_at",
        "kind",
        "subject",
        "recipients",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    ]
    list_filter = ["status", "kind", ("created_at", admin.DateFieldListFilter)]
    search_fields = ["subject", "key"]
    search_help_text = "Words of the subject, the message's key, or a process id."
    show_full_result_count = False

    @admin.display(description="To")
    def recipients(self, message):
        return ", ".join(message.to)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        try:
            return queryset.filter(process_id=uuid.UUID(term)), False
        except ValueError:
            pass
        return super().get_search_results(request, queryset, search_term)


class RolloutSettingForm(forms.ModelForm):
    """Only a registered workflow with more than one version can be rolled out."""

    class Meta:
        model = RolloutSetting
        fields = ["workflow", "percent"]

    def clean_workflow(self):
        label = self.cleaned_data["workflow"].strip().lower()
        if len(registry.versions(label)) < 2:
            known = ", ".join(registry.labels())
            raise forms.ValidationError(f"{label!r} has no two registered versions (workflows: {known}).")
        return label


@admin.register(RolloutSetting)
class RolloutSettingAdmin(admin.ModelAdmin):
    """The share of new processes on the newest version, changed at run time by operators
    holding `processes.change_rolloutsetting`; each change is effective for the next process."""

    form = RolloutSettingForm
    list_display = ["workflow", "percent", "versions", "updated_at", "updated_by"]
    readonly_fields = ["updated_at", "updated_by"]

    @admin.display(description="Registered versions")
    def versions(self, setting):
        return ", ".join(f"v{v}" for v in registry.versions(setting.workflow)) or "none"

    def save_model(self, request, obj, form, change):
        obj.updated_at, obj.updated_by = clock.now(), request.user.get_username()
        super().save_model(request, obj, form, change)


@admin.register(WorkerCluster)
class WorkerClusterAdmin(ReadOnlyAdmin):
    """The supervised worker clusters as their supervisors report them (`run_workers`): which
    run where, whether each takes work, and why one was last replaced."""

    list_display = [
        "name",
        "queue",
        "condition_now",
        "workers_busy",
        "workers_idle",
        "last_started_at",
        "restarts",
        "wedges",
        "sweeper_wedges",
        "last_restart_at",
        "last_restart_reason",
        "last_seen_at",
    ]
    list_filter = ["state", "host", "queue"]
    ordering = ["-last_seen_at"]

    @admin.display(description="state")
    def condition_now(self, cluster: WorkerCluster) -> str:
        return cluster.condition(clock.now(), conf.get("WORKER_SILENT_AFTER"))
