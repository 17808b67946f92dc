"""The list of every bulk operation on orders, newest first: who started which action, when,
why, on how many orders, how far it got and what it refused or failed.

The rows are the engine's (processes.models.bulk), written only by its services, so the list is
read-only (processes.read_only_admin); each row leads to the operation's progress page
(fulfillment.admin.bulk), which is where an operator follows or cancels it. Seeing the list
takes its own view permission, which both roles hold (fulfillment.roles); the order list and
the progress pages link here for those who hold it.
"""

from django.contrib import admin
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html

from fulfillment.admin.process_display import breakable, day_and_time
from fulfillment.bulk_actions import LABEL
from fulfillment.models import OrderBulkOperation
from processes.bulk import actions
from processes.read_only_admin import ReadOnlyAdmin

LIST_PERMISSION = "fulfillment.view_orderbulkoperation"


def bulk_list_url(request) -> str | None:
    """The list's address for those who may see it (the "All bulk operations" links), else None."""
    return (
        reverse("admin:fulfillment_orderbulkoperation_changelist")
        if request.user.has_perm(LIST_PERMISSION)
        else None
    )


def progress_url(operation) -> str:
    return reverse("admin:fulfillment_order_bulk_progress", args=[operation.pk])


def action_label(name: str) -> str:
    """The action as the bulk page offers it; an action no longer registered by its name."""
    labels = {action.name: action.label for action in actions(LABEL)}
    return labels.get(name, name)


class ActionFilter(admin.SimpleListFilter):
    """The actions the order console offers in bulk, by their labels (no query to list them)."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [(action.name, action.label) for action in actions(LABEL)]

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(OrderBulkOperation)
class OrderBulkOperationAdmin(ReadOnlyAdmin):
    """Every bulk operation on orders: find one again after leaving its progress page."""

    # How far each got comes before the free-text reason, so that a phone, which scrolls the
    # table sideways, shows who did what and where it stands first.
    list_display = [
        "started",
        "by",
        "action_and_selection",
        "state",
        "done_of_total",
        "refused_count",
        "failed_count",
        "short_reason",
        "finished",
    ]
    list_display_links = None  # "started" links to the progress page, not to a change form
    list_filter = ["state", ActionFilter]
    search_fields = ["reason", "requested_by"]
    search_help_text = "Words of the reason, or the operator's user name."
    list_per_page = 50

    def get_queryset(self, request):
        return super().get_queryset(request).filter(process_type=LABEL)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """A row's page is its progress page (where it can be followed and cancelled)."""
        operation = self.get_object(request, object_id)
        if operation is None or not self.has_view_permission(request, operation):
            return super().change_view(request, object_id, form_url, extra_context)
        return HttpResponseRedirect(progress_url(operation))

    def changelist_view(self, request, extra_context=None):
        extra = {
            "title": "Bulk operations on orders",
            "is_nav_sidebar_enabled": False,  # its 300 px go to the columns
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    @admin.display(description="started", ordering="requested_at")
    def started(self, operation):
        return format_html(
            '<a href="{}" title="Bulk operation {}: its progress">{}</a>',
            progress_url(operation),
            operation.pk,
            day_and_time(operation.requested_at),
        )

    @admin.display(description="by", ordering="requested_by")
    def by(self, operation):
        return operation.requested_by

    @admin.display(description="action")
    def action_and_selection(self, operation):
        return format_html(
            '{}<span class="console-sub">{}</span>',
            action_label(operation.action),
            breakable(operation.selection or "–"),
        )

    @admin.display(description="reason")
    def short_reason(self, operation):
        reason = operation.reason
        short = reason if len(reason) <= 120 else reason[:117] + "…"
        return format_html('<span title="{}">{}</span>', reason, short)

    @admin.display(description="done / total")
    def done_of_total(self, operation):
        return format_html(
            '{} / {}<span class="console-sub">{} left</span>', operation.done, operation.total, operation.left
        )

    @admin.display(description="refused", ordering="refused")
    def refused_count(self, operation):
        return _flagged(operation.refused)

    @admin.display(description="failed", ordering="failed")
    def failed_count(self, operation):
        return _flagged(operation.failed)

    @admin.display(description="finished", ordering="finished_at")
    def finished(self, operation):
        return day_and_time(operation.finished_at) if operation.finished_at else "–"


def _flagged(count: int):
    """A count of orders the operation did not change, in red when there are any."""
    return format_html('<span class="console-refused">{}</span>', count) if count else "0"
