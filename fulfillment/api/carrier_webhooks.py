"""Events from the carrier, signed as the payment provider's are (fulfillment.api.webhooks) but
with CARRIER_WEBHOOK_SECRET: `parcel.received` says a return's parcel reached the warehouse.

A good event is delivered to the return whose label it names through the engine's inbox
(processes.inbox), keyed by the event's id: the inbox keeps it and journals it, a second
delivery of that id changes nothing, and the return workflow's `on_message` hook
(fulfillment.returns.parcels) moves the return on. An event about a label we do not know is
answered, and ignored: the carrier has nothing to retry.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from fulfillment.api.parsers import refuse_unstorable_text
from fulfillment.api.schema import RETRY_AFTER, error_responses
from fulfillment.api.serializers import StrictCharField, WebhookAckOut
from fulfillment.api.views import SIGNATURE_HEADER, SignedWebhookView
from fulfillment.api.webhooks import Delivery
from fulfillment.models import Return, ReturnLabel
from fulfillment.returns.parcels import PARCEL_RECEIVED
from processes.inbox import process_message_deliver
from processes.journal import Actor
from processes.models.journal import ActorType

SENDER = Actor(ActorType.SYSTEM, "carrier-webhook")


class CarrierEventIn(serializers.Serializer):
    id = StrictCharField(max_length=190)
    type = serializers.ChoiceField(choices=[PARCEL_RECEIVED])
    tracking_number = StrictCharField(max_length=64)


def carrier_event_receive(*, event: dict) -> str:
    """Deliver a verified parcel event (validated CarrierEventIn) to its return; returns a Delivery."""
    label = ReturnLabel.objects.filter(tracking_number=event["tracking_number"]).first()
    if label is None:
        return Delivery.IGNORED
    received_before = label.received_at is not None
    try:
        message, created = process_message_deliver(
            model=Return,
            process_id=label.ret_id,
            name=event["type"],
            dedup_key=f"carrier:{event['id']}",
            payload={**event, "by": SENDER.name},
            actor=SENDER,
            reason=f"carrier event {event['id']}",
        )
    except Return.DoesNotExist:
        return Delivery.IGNORED
    if not created or received_before:
        return Delivery.DUPLICATE
    message.refresh_from_db(fields=["consumed_at"])
    # Not taken: the return closed before its parcel came; the event waits in its journal.
    return Delivery.DELIVERED if message.consumed_at else Delivery.IGNORED


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
        refuse_unstorable_text(serializer.validated_data)
        return Response({"status": carrier_event_receive(event=serializer.validated_data)})
