"""Events from the carrier, signed as the payment provider's are (fulfillment.api.webhooks) but
with CARRIER_WEBHOOK_SECRET: `parcel.received` says a return's parcel reached the warehouse.

A good event is handed to the return waiting for that parcel (fulfillment.returns.parcels);
a second delivery of it changes nothing, and an event about a label we do not know is ignored.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from fulfillment.api.schema import RETRY_AFTER, error_responses
from fulfillment.api.serializers import StrictCharField, WebhookAckOut
from fulfillment.api.views import SIGNATURE_HEADER, SignedWebhookView
from fulfillment.api.webhooks import Delivery
from fulfillment.errors import ReturnNotAllowed
from fulfillment.models import ReturnLabel
from fulfillment.returns.parcels import return_parcel_received
from processes.journal import Actor
from processes.models.journal import ActorType

SENDER = Actor(ActorType.SYSTEM, "carrier-webhook")
PARCEL_RECEIVED = "parcel.received"


class CarrierEventIn(serializers.Serializer):
    id = StrictCharField(max_length=190)
    type = serializers.ChoiceField(choices=[PARCEL_RECEIVED])
    tracking_number = StrictCharField(max_length=64)


def carrier_event_receive(*, event: dict) -> str:
    """Deliver a verified parcel event to its return; returns a Delivery."""
    label = ReturnLabel.objects.filter(tracking_number=event["tracking_number"]).first()
    if label is None:
        return Delivery.IGNORED
    if label.received_at is not None:
        return Delivery.DUPLICATE
    try:
        return_parcel_received(tracking_number=label.tracking_number, actor=SENDER)
    except ReturnNotAllowed:
        return Delivery.IGNORED  # the return closed before its parcel came: a person sees to it
    return Delivery.DELIVERED


class CarrierWebhookView(SignedWebhookView):
    """Events from the carrier, signed with CARRIER_WEBHOOK_SECRET."""

    @extend_schema(
        operation_id="webhooks_carrier",
        summary="An event from the carrier (a return's parcel received), signed with HMAC-SHA256",
        request=CarrierEventIn,
        responses={200: WebhookAckOut, **error_responses(400, 415, 429)},
        parameters=[SIGNATURE_HEADER, RETRY_AFTER],
        auth=[],
    )
    def post(self, request):
        secret = getattr(settings, "CARRIER_WEBHOOK_SECRET", "") or ""
        event = self.verified_event(request, secret=secret, setting="CARRIER_WEBHOOK_SECRET")
        serializer = CarrierEventIn(data=event)
        serializer.is_valid(raise_exception=True)
        return Response({"status": carrier_event_receive(event=serializer.validated_data)})
