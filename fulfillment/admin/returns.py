"""The return list and the return page of the operator console, beside the orders'.

Returns change only through their workflow and the operator actions
(fulfillment.admin.return_actions), never by editing rows: the admin shows them (the engine's
fields read-only) and offers the actions the user may take. The list, like the order list,
reads the circuits of a whole page in one query for its waiting sentences.
"""

from functools import partial

from django.contrib import admin
from django.urls import path, reverse
from django.utils.html import format_html

from fulfillment.admin.action_pages import list_action
from fulfillment.admin.filters import ReturnStepFilter, ReturnStuckFilter
from fulfillment.admin.orders import WaitingChangeList
from fulfillment.admin.process_display import (
    breakable,
    day_and_time,
    hold_sentence,
    overdue,
    steps_in_words,
    waiting_html,
)
from fulfillment.admin.return_actions import ACTIONS, RETURN_ACTIONS, return_action_view
from fulfillment.models import Return, ReturnLabel, ReturnLine
from fulfillment.monitoring import process_timeline
from fulfillment.returns.selectors import return_ledger_check, return_search_q, returns_page
from processes import clock
from processes.read_only_admin import ReadOnlyAdmin
from processes.waiting_reason import waiting_reason


class ReturnLineInline(admin.TabularInline):
    """The units sent back of each order line, and what the inspection made of them."""

    model = ReturnLine
    fields = ["sku", "product_name", "quantity", "worth", "verdict", "reject_reason", "restocked"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "line"
    verbose_name_plural = "lines and verdicts"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("order_line__product", "restock")

    @admin.display(description="SKU")
    def sku(self, line):
        return line.order_line.sku

    @admin.display(description="product")
    def product_name(self, line):
        return line.order_line.product.name

    @admin.display(description="worth")
    def worth(self, line):
        return f"{line.amount():.2f}"

    @admin.display(description="back in stock")
    def restocked(self, line):
        restock = getattr(line, "restock", None)
        return f"{restock.quantity} on {restock.restocked_at:%Y-%m-%d %H:%M:%S}" if restock else "–"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReturnLabelInline(admin.TabularInline):
    """The carrier's labels for the parcel: at most one live; when the parcel arrived."""

    model = ReturnLabel
    fields = ["carrier", "tracking_number", "created_at", "received_at", "received_by", "voided_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "return label"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Return)
class ReturnAdmin(ReadOnlyAdmin):
    """Find the returns that need a person, see why, and act on them."""

    list_display = ["short_id", "order_link", "customer", "state", "amount", "refunded", "waiting", "created"]
    list_display_links = ["short_id"]
    list_filter = [ReturnStuckFilter, "state", "needs_attention", ReturnStepFilter]
    search_fields = ["reason"]  # shows the box; get_search_results searches by id and email
    search_help_text = (
        "A return's or its order's id (or their first 8 characters), or a customer's email (or 3 letters"
        " or more of it)."
    )
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER
    actions = [list_action(RETURN_ACTIONS, name) for name in ACTIONS]
    inlines = [ReturnLineInline, ReturnLabelInline]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "id",
                    "state",
                    "order_link",
                    "reason",
                    "amount",
                    "refunded",
                    "approved_by",
                    "created_at",
                ]
            },
        ),
        (
            "Engine",
            {
                "fields": [
                    ("step", "direction", "run_status"),
                    ("attempts", "next_run_at", "deadline_at"),
                    ("state_changed_at", "step_started_at", "updated_at"),
                    "steps_done",
                    ("needs_attention", "attention_reason"),
                    "last_error",
                    ("lease_owner", "lease_until", "fence"),
                    ("enqueued_at", "workflow_version"),
                ]
            },
        ),
    ]
    readonly_fields = ["order_link", "refunded", "steps_done"]

    # One permission per operator action (the list's actions ask for has_<name>_permission).
    def has_approve_permission(self, request):
        return request.user.has_perm(ACTIONS["approve"].perm)

    def has_refuse_permission(self, request):
        return request.user.has_perm(ACTIONS["refuse"].perm)

    def has_retry_permission(self, request):
        return request.user.has_perm(ACTIONS["retry"].perm)

    def has_cancel_permission(self, request):
        return request.user.has_perm(ACTIONS["cancel"].perm)

    def has_resolve_permission(self, request):
        return request.user.has_perm(ACTIONS["resolve"].perm)

    # The list ---------------------------------------------------------------------------------

    def get_queryset(self, request):
        return returns_page(super().get_queryset(request))

    def get_changelist(self, request, **kwargs):
        return WaitingChangeList

    def get_search_results(self, request, queryset, search_term):
        condition = return_search_q(search_term)
        return (queryset if condition is None else queryset.filter(condition)), False

    def changelist_view(self, request, extra_context=None):
        extra = {
            "dashboard_url": reverse("admin:fulfillment_order_dashboard"),
            "is_nav_sidebar_enabled": False,  # its 300 px go to the columns, as on the order list
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    @admin.display(description="return", ordering="created_at")
    def short_id(self, ret):
        return format_html('<span title="{}">{}</span>', ret.pk, str(ret.pk)[:8])

    @admin.display(description="order", ordering="order")
    def order_link(self, ret):
        url = reverse("admin:fulfillment_order_change", args=[ret.order_id])
        return format_html('<a href="{}" title="{}">{}</a>', url, ret.order_id, str(ret.order_id)[:8])

    @admin.display(description="customer", ordering="order__email")
    def customer(self, ret):
        return breakable(ret.order.email)

    @admin.display(description="refunded")
    def refunded(self, ret):
        refund = getattr(ret, "refund", None)
        return "–" if refund is None else f"{refund.amount:.2f}"

    @admin.display(description="why it waits")
    def waiting(self, ret):
        return waiting_html(getattr(ret, "waiting", None) or waiting_reason(ret))

    @admin.display(description="created", ordering="created_at")
    def created(self, ret):
        return day_and_time(ret.created_at)

    @admin.display(description="completed steps")
    def steps_done(self, ret):
        return steps_in_words(ret)

    # The return page --------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "operator/<str:action_name>/",
                wrap(partial(return_action_view, self)),
                name="fulfillment_return_operator",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ret = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if ret is not None:
            extra.update(self._return_context(request, ret))
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _return_context(self, request, ret: Return) -> dict:
        now = clock.now()
        return {
            "ret": ret,
            "operator_buttons": RETURN_ACTIONS.buttons(request, ret),
            "refund": getattr(ret, "refund", None),
            "inspection": getattr(ret, "inspection", None),
            "order_url": reverse("admin:fulfillment_order_change", args=[ret.order_id]),
            "ledger": return_ledger_check(ret),
            "timeline": process_timeline(ret),
            "overdue": overdue(ret, now),
            "waiting": hold_sentence(ret, now),
            "waiting_sentence": waiting_reason(ret, now=now),
            "dashboard_url": reverse("admin:fulfillment_order_dashboard"),
        }
