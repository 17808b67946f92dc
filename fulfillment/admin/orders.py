"""The order list and the order page of the operator console.

Orders change only through the workflow and the operator actions (fulfillment.admin.actions),
never by editing rows: the admin shows them and offers the actions the user may take. The order
page lists the order's returns and leads to requesting one (fulfillment.admin.return_request).
The list renders from one query for its rows (plus the count and the warehouse filter), so its
cost does not grow with the page or the table.
"""

from functools import partial

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db.models import Prefetch
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from fulfillment.admin.actions import ACTIONS, LIST_ACTIONS, ORDER_ACTIONS, bulk_action, operator_action_view
from fulfillment.admin.bulk import bulk_urls
from fulfillment.admin.bulk_operations import bulk_list_url
from fulfillment.admin.dashboard import dashboard_view
from fulfillment.admin.filters import StepFilter, StuckFilter
from fulfillment.admin.process_display import (
    breakable,
    duration,
    hold_sentence,
    overdue,
    relative,
    steps_in_words,
    waiting_html,
)
from fulfillment.admin.return_request import PERMISSION as RETURN_REQUEST_PERMISSION
from fulfillment.admin.return_request import return_request_refusal, return_request_view
from fulfillment.models import Order, OrderLine, Reservation
from fulfillment.monitoring import order_ledger_check, order_search_q, order_timeline
from fulfillment.returns.selectors import order_returns
from processes import clock
from processes.read_only_admin import ReadOnlyAdmin
from processes.waiting_reason import circuits_for, waiting_reason


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ["sku", "product_name", "quantity", "unit_price"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product")

    @admin.display(description="product")
    def product_name(self, line):
        return line.product.name

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    """Find the orders that need a person, see why, and act on them."""

    # At 1280 px the list has the page's width less the filters (the admin's app sidebar is
    # off here): every column it sorts by stays in sight, texts wrap, and the order's creation
    # time sits under its id (both sort by created_at), leaving room for one more column.
    list_display = [
        "short_id",
        "customer",
        "state",
        "current_step",
        "attention",
        "waiting",
        "attempts",
        "in_state_for",
        "next_attempt",
        "deadline",
    ]
    list_display_links = ["short_id"]
    list_filter = [StuckFilter, "state", "needs_attention", StepFilter, "warehouse", "created_at"]
    search_fields = ["email"]  # shows the box; get_search_results does the index-friendly search
    search_help_text = (
        "An order id (or its first 8 characters), a charge id, a tracking number, or 3 letters or more"
        " of a customer's email or name."
    )
    list_per_page = 50
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER  # a count per filter choice is a full scan each
    actions = [bulk_action(name) for name in LIST_ACTIONS]
    inlines = [OrderLineInline]
    fieldsets = [
        (None, {"fields": ["id", "state", "email", "warehouse", "total", "currency", "created_at"]}),
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
        ("Customer", {"fields": ["owner", "payment_token", "address"]}),
    ]
    readonly_fields = ["steps_done", "address"]

    # One permission per operator action (the list's actions ask for has_<name>_permission).
    def has_retry_permission(self, request):
        return request.user.has_perm(ACTIONS["retry"].perm)

    def has_compensate_permission(self, request):
        return request.user.has_perm(ACTIONS["compensate"].perm)

    def has_cancel_permission(self, request):
        return request.user.has_perm(ACTIONS["cancel"].perm)

    def has_skip_permission(self, request):
        return request.user.has_perm(ACTIONS["skip"].perm)

    def has_resolve_permission(self, request):
        return request.user.has_perm(ACTIONS["resolve"].perm)

    def has_migrate_permission(self, request):
        return request.user.has_perm(ACTIONS["migrate"].perm)

    @admin.display(description="completed steps")
    def steps_done(self, order):
        return steps_in_words(order)

    @admin.display(description="shipping address")
    def address(self, order):
        """The address as a label shows it, one part a line."""
        parts = order.shipping_address if isinstance(order.shipping_address, dict) else {}
        keys = ["name", "line1", "line2", "postal_code", "city", "country"]
        return format_html_join(mark_safe("<br>"), "{}", ((parts[k],) for k in keys if parts.get(k)))

    # The list ---------------------------------------------------------------------------------

    def get_queryset(self, request):
        """With the pick task and its holder, which the waiting sentence reads for every row."""
        return super().get_queryset(request).select_related("pick_task__assignee")

    def get_changelist(self, request, **kwargs):
        return WaitingChangeList

    def get_search_results(self, request, queryset, search_term):
        condition = order_search_q(search_term)
        return (queryset if condition is None else queryset.filter(condition)), False

    def changelist_view(self, request, extra_context=None):
        extra = {
            "dashboard_url": reverse("admin:fulfillment_order_dashboard"),
            "bulk_url": reverse("admin:fulfillment_order_bulk"),
            "bulk_list_url": bulk_list_url(request),
            "is_nav_sidebar_enabled": False,  # its 300 px go to the columns
            **(extra_context or {}),
        }
        return super().changelist_view(request, extra_context=extra)

    @admin.display(description="order", ordering="created_at")
    def short_id(self, order):
        return format_html(
            '<span title="{}">{}</span><span class="console-sub">{} {}</span>',
            order.pk,
            str(order.pk)[:8],
            order.created_at.strftime("%Y-%m-%d"),
            order.created_at.strftime("%H:%M UTC"),
        )

    @admin.display(description="customer", ordering="email")
    def customer(self, order):
        return format_html(
            '{}<span class="console-sub">{}</span>', customer_name(order) or "–", breakable(order.email)
        )

    @admin.display(description="step", ordering="step")
    def current_step(self, order):
        if not order.step:
            return "–"
        undo = "undo " if order.direction != "forward" else ""
        late = overdue(order, clock.now())
        if late:
            return format_html(
                '<span class="console-late">{}{} (late {})</span>', undo, breakable(order.step), late
            )
        return format_html("{}{}", undo, breakable(order.step))

    @admin.display(description="in state for", ordering="state_changed_at")
    def in_state_for(self, order):
        return duration(clock.now() - order.state_changed_at)

    @admin.display(description="next attempt", ordering="next_run_at")
    def next_attempt(self, order):
        return relative(order.next_run_at, clock.now())

    @admin.display(description="deadline", ordering="deadline_at")
    def deadline(self, order):
        return relative(order.deadline_at, clock.now())

    @admin.display(description="needs attention", ordering="needs_attention")
    def attention(self, order):
        if not order.needs_attention:
            return ""
        reason = order.attention_reason
        short = reason if len(reason) <= 80 else reason[:77] + "…"
        return format_html('<span class="console-attention" title="{}">⚠ {}</span>', reason, breakable(short))

    @admin.display(description="why it waits")
    def waiting(self, order):
        waiting = getattr(order, "waiting", None) or waiting_reason(order)
        return waiting_html(waiting)

    # The order page ---------------------------------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path(
                "operator/<str:action_name>/",
                wrap(partial(operator_action_view, self)),
                name="fulfillment_order_operator",
            ),
            path("dashboard/", wrap(partial(dashboard_view, self)), name="fulfillment_order_dashboard"),
            path(
                "<str:object_id>/request-return/",
                wrap(partial(return_request_view, self)),
                name="fulfillment_order_request_return",
            ),
            *bulk_urls(self, wrap),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        order = self.get_object(request, object_id)
        extra = dict(extra_context or {})
        if order is not None:
            extra.update(self._order_context(request, order))
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def _order_context(self, request, order: Order) -> dict:
        order = (
            Order.objects.select_related("payment", "pick_task", "pick_task__assignee")
            .prefetch_related(
                "shipments",
                Prefetch("reservations", Reservation.objects.select_related("stock__product")),
            )
            .get(pk=order.pk)
        )
        return {
            "order": order,
            "operator_buttons": ORDER_ACTIONS.buttons(request, order),
            "returns": order_returns(order),
            "return_request": _return_request_button(request, order),
            "payment": getattr(order, "payment", None),
            "pick_task": getattr(order, "pick_task", None),
            "shipments": list(order.shipments.all()),
            "reservations": list(order.reservations.all()),
            "ledger": order_ledger_check(order),
            "timeline": order_timeline(order),
            "overdue": overdue(order, clock.now()),
            "waiting": hold_sentence(order, clock.now()),
            "waiting_sentence": waiting_reason(order),
            "dashboard_url": reverse("admin:fulfillment_order_dashboard"),
        }


def _return_request_button(request, order: Order) -> dict | None:
    """The order page's "Request a return", for those who may, with why it is off now."""
    if not request.user.has_perm(RETURN_REQUEST_PERMISSION):
        return None
    url = reverse("admin:fulfillment_order_request_return", args=[order.pk])
    return {"url": url, "refused": return_request_refusal(order)}


class WaitingChangeList(ChangeList):
    """The order (or return) list, whose rows carry their waiting sentence: the circuits holding
    any of the page's processes are read in one query, whatever the page holds."""

    def get_results(self, request):
        super().get_results(request)
        circuits, now = circuits_for(self.result_list), clock.now()
        for process in self.result_list:
            process.waiting = waiting_reason(process, now=now, circuits=circuits)


def customer_name(order: Order) -> str:
    """The name on the shipping address: the customer as the warehouse and the carrier know them."""
    address = order.shipping_address
    return str(address.get("name", "")) if isinstance(address, dict) else ""
