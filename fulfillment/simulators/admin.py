"""The simulators' ledgers, read-only as a remote service's dashboard would be, and the fault rules."""

from django.contrib import admin

from fulfillment.simulators.models import (
    ChargeRecord,
    FaultRule,
    IdempotencyRecord,
    LabelRecord,
    RefundRecord,
    SentMail,
)
from processes.admin import ReadOnlyAdmin


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
    list_display = ["service", "operation", "mode", "remaining", "reference", "created_at"]
    list_editable = ["remaining"]
    list_filter = ["service", "operation", "mode"]
