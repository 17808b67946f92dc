"""The simulators' ledgers, read-only as a remote service's dashboard would be, the fault rules,
and the outage switch."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from fulfillment.simulators.ledger_columns import prefix, shortened, when
from fulfillment.simulators.models import (
    ChargeRecord,
    FaultRule,
    IdempotencyRecord,
    LabelRecord,
    Outage,
    ReceivedCall,
    RefundRecord,
    RefusedCall,
    SentMail,
    Service,
)
from fulfillment.simulators.outages import REASON_MAX_LENGTH, outage_board, outage_set
from processes.read_only_admin import ReadOnlyAdmin

SWITCH_PERMISSION = "simulators.switch_outage"


def time_column(field: str, description: str):
    """A list column writing the time in `field` so that it wraps after the date only, sorted by it."""

    @admin.display(description=description, ordering=field)
    def column(self, record):
        return when(getattr(record, field))

    return column


def shortened_column(field: str, description: str, *, limit: int = 64):
    """A list column writing the text in `field` shortened, the full text in its title, sorted by it."""

    @admin.display(description=description, ordering=field)
    def column(self, record):
        return shortened(getattr(record, field), limit=limit)

    return column


class LedgerAdmin(ReadOnlyAdmin):
    """A list nobody edits: the ledgers change only through the simulated services' calls.

    Its lists write references, keys and ids shortened with the full value in a title
    (fulfillment.simulators.ledger_columns) so that the times stay in sight at 1280 px.
    """

    reference_short = shortened_column("reference", "Reference", limit=12)
    key_short = shortened_column("idempotency_key", "Idempotency key")


@admin.register(ChargeRecord)
class ChargeRecordAdmin(LedgerAdmin):
    list_display = ["charge", "reference_short", "amount_and_currency", "status_and_reason", "created"]
    list_filter = ["status", "currency"]
    search_fields = ["charge_id", "reference", "idempotency_key"]
    created = time_column("created_at", "Created at")

    @admin.display(description="Charge id", ordering="charge_id")
    def charge(self, charge):
        return prefix(charge.charge_id)

    @admin.display(description="Amount", ordering="amount")
    def amount_and_currency(self, charge):
        return f"{charge.amount} {charge.currency}"

    @admin.display(description="Status", ordering="status")
    def status_and_reason(self, charge):
        if not charge.decline_reason:
            return charge.get_status_display()
        return format_html(
            '{}<span class="ledger-sub">{}</span>', charge.get_status_display(), charge.decline_reason
        )


@admin.register(RefundRecord)
class RefundRecordAdmin(LedgerAdmin):
    list_display = ["refund", "charge_short", "reference_short", "amount", "full", "created"]
    list_select_related = ["charge"]
    search_fields = ["refund_id", "reference", "charge__charge_id", "idempotency_key"]
    created = time_column("created_at", "Created at")

    @admin.display(description="Refund id", ordering="refund_id")
    def refund(self, refund):
        return prefix(refund.refund_id)

    @admin.display(description="Charge", ordering="charge__charge_id")
    def charge_short(self, refund):
        return prefix(refund.charge.charge_id)


@admin.register(LabelRecord)
class LabelRecordAdmin(LedgerAdmin):
    list_display = ["tracking_number", "reference_short", "weight_grams", "created", "voided"]
    list_filter = [("voided_at", admin.EmptyFieldListFilter)]
    search_fields = ["tracking_number", "reference", "idempotency_key"]
    created = time_column("created_at", "Created at")
    voided = time_column("voided_at", "Voided at")


@admin.register(SentMail)
class SentMailAdmin(LedgerAdmin):
    list_display = ["message", "reference_short", "subject_short", "duplicate_offers", "sent"]
    search_fields = ["message_id", "reference", "subject"]
    sent = time_column("sent_at", "Sent at")
    message = shortened_column("message_id", "Message id")
    subject_short = shortened_column("subject", "Subject", limit=60)


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(LedgerAdmin):
    list_display = ["service", "operation", "key_short", "reference_short", "error", "created"]
    list_filter = ["service", "operation", "error"]
    search_fields = ["key", "reference"]
    created = time_column("created_at", "Created at")
    key_short = shortened_column("key", "Key")


@admin.register(FaultRule)
class FaultRuleAdmin(admin.ModelAdmin):
    """Fault rules, the one editable list here: how many calls each still strikes."""

    list_display = ["service", "operation", "mode", "remaining", "reference_short", "account", "created"]
    list_editable = ["remaining"]
    list_filter = ["service", "operation", "mode"]
    reference_short = shortened_column("reference", "Reference", limit=12)
    created = time_column("created_at", "Created at")


@admin.register(RefusedCall)
class RefusedCallAdmin(LedgerAdmin):
    list_display = ["refused_at", "service", "operation", "reason", "reference_short", "key_short"]
    list_filter = ["service", "operation", "reason"]
    search_fields = ["reference", "idempotency_key"]
    date_hierarchy = "at"
    show_full_result_count = False
    refused_at = time_column("at", "At")


@admin.register(ReceivedCall)
class ReceivedCallAdmin(LedgerAdmin):
    list_display = ["received_at", "service", "operation", "account", "reference_short", "key_short"]
    list_filter = ["service", "operation", "account"]
    search_fields = ["reference", "idempotency_key"]
    date_hierarchy = "at"
    show_full_result_count = False
    received_at = time_column("at", "At")


@admin.register(Outage)
class OutageAdmin(ReadOnlyAdmin):
    """One line per service with a button that takes it down or brings it back.

    Seeing the board takes the view permission; switching takes `simulators.switch_outage`
    (superusers have it), checked again on the POST itself, not only by hiding the button.
    """

    def has_switch_permission(self, request) -> bool:
        return request.user.has_perm(SWITCH_PERMISSION)

    def get_urls(self):
        switch = self.admin_site.admin_view(self.switch_view)
        return [path("<str:service>/switch/", switch, name="simulators_outage_switch"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Outages of the simulated services",
            "board": outage_board(),
            "can_switch": self.has_switch_permission(request),
            "reason_max_length": REASON_MAX_LENGTH,
        }
        return TemplateResponse(request, "admin/simulators/outage/board.html", context)

    def switch_view(self, request, service: str):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_switch_permission(request):
            raise PermissionDenied
        if service not in Service.values:
            raise Http404(f"No simulated service {service!r}.")
        if request.POST.get("on") not in ("1", "0"):
            return HttpResponseBadRequest("'on' must be 1 (take the service down) or 0 (bring it back).")
        on = request.POST["on"] == "1"
        reason = request.POST.get("reason", "").strip()
        label = Service(service).label
        if on and not reason:
            messages.error(request, f"{label} is still up: say why you take it down (a reason is required).")
            return redirect("admin:simulators_outage_changelist")
        try:
            outage_set(service=service, on=on, by=request.user.get_username(), reason=reason if on else "")
        except ValueError as error:
            messages.error(request, f"{label} was not switched: {error}.")
            return redirect("admin:simulators_outage_changelist")
        done = f"down: {reason}" if on else "back up"
        messages.success(request, f"{label} is {done}.")
        return redirect("admin:simulators_outage_changelist")
