"""The returns API's serializers: what a client sends to request a return, what it reads back."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fulfillment.api import conf
from fulfillment.api.serializers import StepOut, StrictCharField, StrictIntegerField
from fulfillment.api.timeline import order_events, order_steps
from fulfillment.models import ReturnLine, ReturnState


class ReturnLineIn(serializers.Serializer):
    line = StrictIntegerField(
        min_value=1, help_text="The id of the order's line (`lines[].id` of the order)."
    )

    def get_fields(self):
        fields = super().get_fields()
        fields["quantity"] = StrictIntegerField(min_value=1, max_value=conf.get("MAX_QUANTITY"))
        return fields


class ReturnRequestIn(serializers.Serializer):
    reason = StrictCharField(max_length=500, help_text="Why the items come back, in the customer's words.")

    def get_fields(self):
        fields = super().get_fields()
        fields["lines"] = serializers.ListField(
            child=ReturnLineIn(), allow_empty=False, min_length=1, max_length=conf.get("MAX_LINES")
        )
        return fields


class ReturnCancelIn(serializers.Serializer):
    reason = StrictCharField(max_length=500, default="cancelled by the client")


class ReturnLineOut(serializers.Serializer):
    line = serializers.IntegerField(source="order_line_id")
    sku = serializers.CharField(source="order_line.sku")
    quantity = serializers.IntegerField()
    verdict = serializers.ChoiceField(choices=ReturnLine.Verdict.choices)
    reject_reason = serializers.CharField()


class ReturnEventOut(serializers.Serializer):
    at = serializers.DateTimeField()
    to_status = serializers.ChoiceField(choices=ReturnState.choices)
    reason = serializers.CharField(help_text="What happened, in plain words.")


class ReturnOut(serializers.Serializer):
    id = serializers.UUIDField()
    order = serializers.UUIDField(source="order_id")
    status = serializers.ChoiceField(source="state", choices=ReturnState.choices)
    needs_attention = serializers.BooleanField()
    reason = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, help_text="What the lines are worth.")
    refunded = serializers.SerializerMethodField()
    lines = ReturnLineOut(many=True)
    label = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()
    events = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    url = serializers.HyperlinkedIdentityField(view_name="api:return-detail")

    @extend_schema_field(serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True))
    def get_refunded(self, ret):
        refund = getattr(ret, "refund", None) if ret.refund_settled() else None
        return None if refund is None else f"{refund.amount:.2f}"

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_label(self, ret):
        """The label the customer sends the parcel with, while it is live."""
        live = ret.labels.filter(voided_at__isnull=True).first()
        return (
            None if live is None else {"tracking_number": live.tracking_number, "label_url": live.label_url}
        )

    @extend_schema_field(StepOut(many=True))
    def get_steps(self, ret):
        return StepOut(order_steps(ret), many=True).data

    @extend_schema_field(ReturnEventOut(many=True))
    def get_events(self, ret):
        return ReturnEventOut(order_events(ret), many=True).data
