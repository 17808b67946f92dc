"""The API's serializers: small input ones that validate, output ones that render.

Input fields are strict about JSON types (DRF's own accept 2 for "2" and "2" for 2), so a
wrong type is a 400 that names the field, never a surprise further in.
"""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fulfillment.api import conf
from fulfillment.api.timeline import StepStatus, order_steps
from fulfillment.api.webhooks import Delivery
from fulfillment.countries import NotACountry, country_code_check, country_codes
from fulfillment.models import OrderState, Product
from processes.models.journal import ActorType
from processes.waiting_reason import waiting_reason


class StrictCharField(serializers.CharField):
    """A string field that refuses numbers and booleans, and measures `max_length` on the
    string as sent, as the schema's maxLength does (DRF trims whitespace first, so 501
    characters of which one a leading newline would pass)."""

    default_error_messages = {"not_a_string": "Not a valid string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class StrictEmailField(serializers.EmailField, StrictCharField):
    """An email field that refuses anything but a string."""


@extend_schema_field({"type": "string", "enum": list(country_codes()), "example": "DE"})
class CountryCodeField(StrictCharField):
    """A country as an upper-case ISO 3166-1 alpha-2 code (the rule is fulfillment.countries').

    Taken exactly as sent, like the schema's enum says: " DE" is refused, not trimmed.
    """

    def __init__(self, **kwargs):
        super().__init__(trim_whitespace=False, **kwargs)

    def to_internal_value(self, data):
        try:
            return country_code_check(super().to_internal_value(data))
        except NotACountry as error:
            raise serializers.ValidationError(str(error), code="invalid") from None


class StrictIntegerField(serializers.IntegerField):
    """A whole-number field that refuses strings, floats and booleans."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


# Input


class AddressIn(serializers.Serializer):
    name = StrictCharField(max_length=200)
    line1 = StrictCharField(max_length=200)
    line2 = StrictCharField(max_length=200, allow_blank=True, default="")
    city = StrictCharField(max_length=100)
    postal_code = StrictCharField(max_length=20)
    country = CountryCodeField(
        help_text="ISO 3166-1 alpha-2 country code in upper case, e.g. DE. Codes ISO does not list "
        "(XX, UK, EU) and lower case (de) are refused with 400."
    )


class LineIn(serializers.Serializer):
    sku = StrictCharField(max_length=64)

    def get_fields(self):
        fields = super().get_fields()
        fields["quantity"] = StrictIntegerField(min_value=1, max_value=conf.get("MAX_QUANTITY"))
        return fields


class OrderPlaceIn(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    payment_token = StrictCharField(max_length=64, help_text="tok_ok pays, tok_declined is refused.")
    shipping_address = AddressIn()

    def get_fields(self):
        fields = super().get_fields()
        fields["lines"] = serializers.ListField(
            child=LineIn(), allow_empty=False, min_length=1, max_length=conf.get("MAX_LINES")
        )
        return fields

    def validate_lines(self, lines):
        """Every SKU is in the catalogue, once; errors are keyed by line index, like DRF's own."""
        known = set(
            Product.objects.filter(sku__in=[line["sku"] for line in lines]).values_list("sku", flat=True)
        )
        errors, seen = {}, set()
        for index, line in enumerate(lines):
            if line["sku"] not in known:
                errors[index] = {"sku": [f"Unknown SKU {line['sku']!r}."]}
            elif line["sku"] in seen:
                errors[index] = {
                    "sku": ["This SKU is on an earlier line: put its whole quantity on one line."]
                }
            seen.add(line["sku"])
        if errors:
            raise serializers.ValidationError(errors)
        return lines


class AddressChangeIn(serializers.Serializer):
    shipping_address = AddressIn(
        help_text="The whole new address; until the order is picked. A label already made is voided "
        "and made again with it."
    )


class CancelIn(serializers.Serializer):
    reason = StrictCharField(max_length=500, default="cancelled by the client")


class PaymentObjectIn(serializers.Serializer):
    id = StrictCharField(max_length=200, required=False)
    reference = StrictCharField(
        max_length=200, required=False, help_text="Our order's id, as sent with the charge."
    )


class PaymentDataIn(serializers.Serializer):
    object = PaymentObjectIn()


class PaymentEventIn(serializers.Serializer):
    id = StrictCharField(max_length=190)
    type = StrictCharField(
        max_length=64, help_text="e.g. charge.succeeded, charge.disputed, charge.refunded."
    )
    created = StrictIntegerField(required=False)
    data = PaymentDataIn()


# Output


class AddressOut(serializers.Serializer):
    name = serializers.CharField(default="")
    line1 = serializers.CharField(default="")
    line2 = serializers.CharField(default="")
    city = serializers.CharField(default="")
    postal_code = serializers.CharField(default="")
    country = serializers.CharField(default="")


class LineOut(serializers.Serializer):
    id = serializers.IntegerField(help_text="The line's id: what a return names it by.")
    sku = serializers.CharField()
    quantity = serializers.IntegerField()
    unit_price = serializers.DecimalField(max_digits=10, decimal_places=2)


class StepOut(serializers.Serializer):
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=StepStatus.choices)
    attempts = serializers.IntegerField(help_text="Attempts at the step, or at undoing it once it is undone.")
    last_error = serializers.CharField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class WaitingOut(serializers.Serializer):
    """Why an order that is not finished waits, what happens next and when."""

    reason = serializers.CharField(
        source="client_reason",
        help_text="One sentence for a person: why the order waits, what happens next and when.",
    )
    next_at = serializers.DateTimeField(
        source="client_next_at",
        allow_null=True,
        help_text="When the next thing happens to the order (a retry, a probe of a service that is "
        "down, the deadline of a pick); null when only a person on our side can move it.",
    )


class OrderOut(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(source="state", choices=OrderState.choices)
    needs_attention = serializers.BooleanField()
    email = serializers.EmailField()
    shipping_address = AddressOut()
    lines = LineOut(many=True)
    total = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField()
    tracking_number = serializers.SerializerMethodField()
    steps = serializers.SerializerMethodField()
    waiting = serializers.SerializerMethodField(
        help_text="Why the order waits, what happens next and when; null once it is finished."
    )
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    url = serializers.HyperlinkedIdentityField(view_name="api:order-detail")

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_tracking_number(self, order) -> str | None:
        live = order.live_shipments
        return live[0].tracking_number if live else None

    @extend_schema_field(StepOut(many=True))
    def get_steps(self, order):
        return StepOut(order_steps(order), many=True).data

    @extend_schema_field(WaitingOut(allow_null=True))
    def get_waiting(self, order) -> dict | None:
        waiting = order.waiting if hasattr(order, "waiting") else waiting_reason(order)
        return None if waiting is None else WaitingOut(waiting).data


class EventOut(serializers.Serializer):
    at = serializers.DateTimeField()
    from_status = serializers.ChoiceField(choices=OrderState.choices, allow_null=True)
    to_status = serializers.ChoiceField(choices=OrderState.choices)
    actor = serializers.ChoiceField(choices=ActorType.choices)
    reason = serializers.CharField()


class WebhookAckOut(serializers.Serializer):
    status = serializers.ChoiceField(choices=Delivery.choices)


class ErrorOut(serializers.Serializer):
    code = serializers.CharField(
        help_text="Machine-readable, e.g. invalid, not_found, idempotency_key_reused."
    )
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    errors = serializers.DictField(
        required=False, help_text="For code=invalid: messages by field (nested like the request body)."
    )
