"""The engine's journal, read-only: transitions, notes and every attempt at a step.

Append-only by design, so nobody may add, change or delete a row here. The operator
dashboard links to the attempts filtered by step, direction and time.
"""

import uuid

from django.contrib import admin

from processes.models import ProcessEvent, StepAttempt


class JournalAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


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
