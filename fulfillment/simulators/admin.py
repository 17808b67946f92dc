"""The simulators' ledgers, read-only as a remote service's dashboard would be, the fault rules,
and the outage switch."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseBadRequest, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

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


class LedgerAdmin(ReadOnlyAdmin):
    """A list nobody edits: the ledgers change only through the simulated services' calls."""


@admin.register(ChargeRecord)
class ChargeRecordAdmin(LedgerAdmin):
    list_display = ["charge_id", "reference", "amount", "currency", "status", "decline_reason", "created_at"]
    list_filter = ["status", "currency"]
    search_fields = ["charge_id", "reference", "idempotency_key"]


@admin.register(RefundRecord)
class RefundRecordAdmin(LedgerAdmin):
    list_display = ["refund_id", "charge", "reference", "amount", "created_at"]
    list_select_related = ["charge"]
    search_fields = ["refund_id", "reference", "charge__charge_id", "idempotency_key"]


@admin.register(LabelRecord)
class LabelRecordAdmin(LedgerAdmin):
    list_display = ["tracking_number", "reference", "weight_grams", "created_at", "voided_at"]
    list_filter = [("voided_at", admin.EmptyFieldListFilter)]
    search_fields = ["tracking_number", "reference", "idempotency_key"]


@admin.register(SentMail)
class SentMailAdmin(LedgerAdmin):
    list_display = ["message_id", "reference", "subject", "duplicate_offers", "sent_at"]
    search_fields = ["message_id", "reference", "subject"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(LedgerAdmin):
    list_display = ["service", "operation", "key", "reference", "error", "created_at"]
    list_filter = ["service", "operation", "error"]
    search_fields = ["key", "reference"]


@admin.register(FaultRule)
class FaultRuleAdmin(admin.ModelAdmin):
    list_display = ["service", "operation", "mode", "remaining", "reference", "account", "created_at"]
    list_editable = ["remaining"]
    list_filter = ["service", "operation", "mode"]


@admin.register(RefusedCall)
class RefusedCallAdmin(LedgerAdmin):
    list_display = ["at", "service", "operation", "reason", "reference", "idempotency_key"]
    list_filter = ["service", "operation", "reason"]
    search_fields = ["reference", "idempotency_key"]
    date_hierarchy = "at"
    show_full_result_count = False


@admin.register(ReceivedCall)
class ReceivedCallAdmin(LedgerAdmin):
    list_display = ["at", "service", "operation", "account", "reference", "idempotency_key"]
    list_filter = ["service", "operation", "account"]
    search_fields = ["reference", "idempotency_key"]
    date_hierarchy = "at"
    show_full_result_count = False


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
