"""The API's endpoints: each validates its input, calls one service and renders the result."""

import re

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import ValidationError
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfillment.api.authentication import LimitedTokenAuthentication
from fulfillment.api.filters import OrderFilter
from fulfillment.api.idempotency import idempotency_lookup, request_fingerprint
from fulfillment.api.orders import order_address_change_once, order_cancel_by_client, order_place_once
from fulfillment.api.pagination import OrderPagination
from fulfillment.api.parsers import (
    BoundedJSONParser,
    json_loads_bounded,
    read_bounded,
    refuse_unstorable_text,
)
from fulfillment.api.schema import RETRY_AFTER, error_responses
from fulfillment.api.selectors import (
    order_journal_attach,
    order_list_for_client,
    order_placed_attach,
    order_waiting_attach,
)
from fulfillment.api.serializers import (
    AddressChangeIn,
    CancelIn,
    EventOut,
    OrderOut,
    OrderPlaceIn,
    PaymentEventIn,
    WebhookAckOut,
)
from fulfillment.api.throttling import ClientRateThrottle, WebhookRateThrottle
from fulfillment.api.timeline import order_events
from fulfillment.api.webhooks import payment_event_receive, signature_verify
from fulfillment.models import Order
from processes import clock

IDEMPOTENCY_KEY = re.compile(r"^[!-~]{1,255}\Z")
IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    pattern=IDEMPOTENCY_KEY.pattern.removesuffix(r"\Z") + "$",
    description="A unique string per order (a UUID will do); send the same one when retrying that order.",
)
REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[201],
    enum=["true"],
    description="Present when the answer is that of an earlier request with the same key.",
)
REPLAYED_200 = OpenApiParameter(
    "Idempotent-Replayed",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    response=[200],
    enum=["true"],
    description="Present when the answer is that of an earlier request with the same key.",
)
SIGNATURE_HEADER = OpenApiParameter(
    "X-Signature",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="t=<unix time>,v1=<hex HMAC-SHA256 of '<t>.<raw body>' keyed with the shared secret>",
)


class ClientView(GenericAPIView):
    """Base of the client endpoints: token (or session) auth, a per-client rate, bounded JSON.

    A client sees only its own orders: another client's order is a 404, as if it did not exist.
    """

    authentication_classes = [LimitedTokenAuthentication, SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [ClientRateThrottle]
    parser_classes = [BoundedJSONParser]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no client
            return Order.objects.none()
        return order_list_for_client(client=self.request.user)

    def order_response(self, order_id, status_code: int) -> Response:
        order = self.get_queryset().get(pk=order_id)
        order_waiting_attach(order_journal_attach([order]))
        return Response(OrderOut(order, context={"request": self.request}).data, status_code)


class OrderListView(ClientView):
    """List the client's orders (newest first, `?status=`), or place one under an idempotency key."""

    serializer_class = OrderPlaceIn
    filter_backends = [DjangoFilterBackend]
    filterset_class = OrderFilter
    pagination_class = OrderPagination

    @extend_schema(
        operation_id="orders_list",
        summary="List your orders, newest first",
        responses={200: OrderOut(many=True), **error_responses(400, 401, 403, 404, 429)},
        parameters=[RETRY_AFTER],
    )
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        order_waiting_attach(order_journal_attach(page))
        return self.get_paginated_response(OrderOut(page, many=True, context={"request": request}).data)

    @extend_schema(
        operation_id="orders_place",
        summary="Place an order, exactly once per Idempotency-Key",
        request=OrderPlaceIn,
        responses={201: OrderOut, **error_responses(400, 401, 403, 415, 422, 429)},
        parameters=[IDEMPOTENCY_KEY_HEADER, REPLAYED, RETRY_AFTER],
    )
    def post(self, request):
        key = idempotency_key_of(request)
        fingerprint = request_fingerprint(request.data)
        earlier = idempotency_lookup(client=request.user, key=key, fingerprint=fingerprint)
        if earlier is not None:
            return self._placed(earlier.order_id, earlier.status_code, replayed=True)
        serializer = OrderPlaceIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        order, replayed = order_place_once(
            client=request.user, idempotency_key=key, fingerprint=fingerprint, data=serializer.validated_data
        )
        if replayed:  # another request with the key placed it: read it as it is now
            return self._placed(order.pk, status.HTTP_201_CREATED, replayed=True)
        data = OrderOut(order_placed_attach(order), context={"request": request}).data
        return self._placed_response(Response(data, status.HTTP_201_CREATED), replayed=False)

    def _placed(self, order_id, status_code: int, *, replayed: bool) -> Response:
        return self._placed_response(self.order_response(order_id, status_code), replayed=replayed)

    def _placed_response(self, response: Response, *, replayed: bool) -> Response:
        response["Location"] = str(response.data["url"])  # a plain str: wsgiref refuses subclasses
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class OrderDetailView(ClientView):
    """One of the client's orders, with its steps; its shipping address changed until picked."""

    serializer_class = OrderOut

    @extend_schema(
        operation_id="orders_retrieve",
        summary="One of your orders, with its steps",
        responses={200: OrderOut, **error_responses(401, 403, 404, 429)},
        parameters=[RETRY_AFTER],
    )
    def get(self, request, pk):
        order = self.get_object()
        order_waiting_attach(order_journal_attach([order]))
        return Response(OrderOut(order, context={"request": request}).data)

    @extend_schema(
        operation_id="orders_change_address",
        summary="Change an order's shipping address (until it is picked), once per Idempotency-Key",
        description="Before the label is made the new address is recorded; after, the label is voided "
        "and made again with it. Refused with 409 once the order is picked, cancelled, or its pick "
        "has begun. Retrying with the same key and body answers as the first request did.",
        request=AddressChangeIn,
        responses={200: OrderOut, **error_responses(400, 401, 403, 404, 409, 415, 422, 429)},
        parameters=[IDEMPOTENCY_KEY_HEADER, REPLAYED_200, RETRY_AFTER],
    )
    def patch(self, request, pk):
        key = idempotency_key_of(request)
        fingerprint = request_fingerprint({"change_address": str(pk), "body": request.data})
        earlier = idempotency_lookup(client=request.user, key=key, fingerprint=fingerprint)
        if earlier is None:
            serializer = AddressChangeIn(data=request.data)
            serializer.is_valid(raise_exception=True)
            _, replayed = order_address_change_once(
                client=request.user,
                order_id=pk,
                idempotency_key=key,
                fingerprint=fingerprint,
                address=serializer.validated_data["shipping_address"],
            )
        response = self.order_response(pk, status.HTTP_200_OK)
        if earlier is not None or replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class OrderEventsView(ClientView):
    """The order's journal as its client may read it: transitions, their times and reasons."""

    serializer_class = EventOut

    @extend_schema(
        operation_id="orders_events",
        summary="An order's journal: its transitions, when and why",
        responses={200: EventOut(many=True), **error_responses(401, 403, 404, 429)},
        parameters=[RETRY_AFTER],
    )
    def get(self, request, pk):
        order = self.get_object()
        order_journal_attach([order])
        return Response(EventOut(order_events(order), many=True).data)


class OrderCancelView(ClientView):
    """Cancel the order: its completed steps are undone in the background (202), unless picked (409)."""

    serializer_class = CancelIn

    @extend_schema(
        operation_id="orders_cancel",
        summary="Cancel an order (until it is picked)",
        request=CancelIn,
        responses={
            202: OpenApiResponse(OrderOut, description="Accepted: the order is being (or was) cancelled."),
            **error_responses(400, 401, 403, 404, 409, 415, 429),
        },
        parameters=[RETRY_AFTER],
    )
    def post(self, request, pk):
        serializer = CancelIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        order_cancel_by_client(client=request.user, order_id=pk, reason=serializer.validated_data["reason"])
        return self.order_response(pk, status.HTTP_202_ACCEPTED)


class SignedWebhookView(APIView):
    """A service's events, authenticated by their HMAC signature alone (X-Signature)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = [WebhookRateThrottle]
    parser_classes = [BoundedJSONParser]

    def verified_event(self, request, **secret) -> dict:
        """The body's JSON once its signature holds (a 400 otherwise); `secret` names another
        service's secret and setting (`secret=..., setting=...`) than the payment provider's."""
        body = read_bounded(request)
        signature_verify(
            header=request.headers.get("X-Signature", ""), body=body, now=clock.now().timestamp(), **secret
        )
        return json_loads_bounded(body)


class PaymentWebhookView(SignedWebhookView):
    """Events from the payment provider."""

    @extend_schema(
        operation_id="webhooks_payments",
        summary="An event from the payment provider, signed with HMAC-SHA256",
        request=PaymentEventIn,
        responses={200: WebhookAckOut, **error_responses(400, 415, 429)},
        parameters=[SIGNATURE_HEADER, RETRY_AFTER],
        auth=[],
    )
    def post(self, request):
        event = self.verified_event(request)
        PaymentEventIn(data=event).is_valid(raise_exception=True)
        refuse_unstorable_text(event)
        return Response({"status": payment_event_receive(event=event)})


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """Any other path under /api/, whatever the method: a JSON 404, not an HTML page."""
    return JsonResponse({"code": "not_found", "detail": "No such endpoint; see /api/docs/."}, status=404)


def idempotency_key_of(request) -> str:
    """The request's Idempotency-Key header, or a 400 saying what is wrong with it."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        message = "This header is required: a unique string per order, the same when retrying it."
    elif not IDEMPOTENCY_KEY.match(key):
        message = "Use 1 to 255 visible ASCII characters (a UUID will do)."
    else:
        return key
    raise ValidationError({"Idempotency-Key": [message]})
