"""The returns endpoints: request a return of a completed order's lines, read it, cancel it.

Each validates its input, calls one service (fulfillment.api.returns) and renders the return.
A client sees only the returns of its own orders: another's is a 404.
"""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from fulfillment.api.idempotency import idempotency_lookup, request_fingerprint
from fulfillment.api.return_serializers import ReturnCancelIn, ReturnOut, ReturnRequestIn
from fulfillment.api.returns import return_cancel_by_client, return_request_once
from fulfillment.api.schema import RETRY_AFTER, error_responses
from fulfillment.api.selectors import journal_attach, return_list_for_client
from fulfillment.api.views import IDEMPOTENCY_KEY_HEADER, REPLAYED, ClientView, idempotency_key_of
from fulfillment.models import Return


class ReturnClientView(ClientView):
    """Base of the returns endpoints: the client's returns, rendered with their journal."""

    serializer_class = ReturnOut

    def returns(self):
        if getattr(self, "swagger_fake_view", False):
            return Return.objects.none()
        return return_list_for_client(client=self.request.user)

    def render(self, returns, status_code=status.HTTP_200_OK, many=False) -> Response:
        journal_attach(returns, label=Return._meta.label_lower)
        data = ReturnOut(returns, many=True, context={"request": self.request}).data
        return Response(data if many else data[0], status_code)


class OrderReturnsView(ReturnClientView):
    """The returns of one of the client's orders, or a new one under an idempotency key."""

    @extend_schema(
        operation_id="orders_returns_list",
        summary="The returns of one of your orders, newest first",
        responses={200: ReturnOut(many=True), **error_responses(401, 403, 404, 429)},
        parameters=[RETRY_AFTER],
    )
    def get(self, request, pk):
        order = self.get_object()
        return self.render(list(self.returns().filter(order=order)), many=True)

    @extend_schema(
        operation_id="orders_returns_request",
        summary="Return some units of a completed order's lines, exactly once per Idempotency-Key",
        request=ReturnRequestIn,
        responses={201: ReturnOut, **error_responses(400, 401, 403, 404, 409, 415, 422, 429)},
        parameters=[IDEMPOTENCY_KEY_HEADER, REPLAYED, RETRY_AFTER],
    )
    def post(self, request, pk):
        order = self.get_object()
        key = idempotency_key_of(request)
        # The order is part of the request: one key sent for two orders is two requests.
        fingerprint = request_fingerprint({"order": str(order.pk), "body": request.data})
        earlier = idempotency_lookup(client=request.user, key=key, fingerprint=fingerprint)
        if earlier is not None:
            return self._made(earlier.ret_id, earlier.status_code, replayed=True)
        serializer = ReturnRequestIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        ret, replayed = return_request_once(
            client=request.user,
            order_id=order.pk,
            idempotency_key=key,
            fingerprint=fingerprint,
            data=serializer.validated_data,
        )
        return self._made(ret.pk, status.HTTP_201_CREATED, replayed=replayed)

    def _made(self, return_id, status_code: int, *, replayed: bool) -> Response:
        response = self.render([self.returns().get(pk=return_id)], status_code)
        response["Location"] = str(response.data["url"])
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class ReturnDetailView(ReturnClientView):
    """One of the client's returns, with its status and steps in plain words."""

    @extend_schema(
        operation_id="returns_retrieve",
        summary="One of your returns, with its steps",
        responses={200: ReturnOut, **error_responses(401, 403, 404, 429)},
        parameters=[RETRY_AFTER],
    )
    def get(self, request, pk):
        return self.render([self.returns().get(pk=pk)])


class ReturnCancelView(ReturnClientView):
    """Cancel a return until its parcel arrives: its label is voided (202), later a 409."""

    @extend_schema(
        operation_id="returns_cancel",
        summary="Cancel a return (until its parcel arrives)",
        request=ReturnCancelIn,
        responses={
            202: OpenApiResponse(ReturnOut, description="Accepted: the return is being (or was) closed."),
            **error_responses(400, 401, 403, 404, 409, 415, 429),
        },
        parameters=[RETRY_AFTER],
    )
    def post(self, request, pk):
        serializer = ReturnCancelIn(data=request.data)
        serializer.is_valid(raise_exception=True)
        return_cancel_by_client(client=request.user, return_id=pk, reason=serializer.validated_data["reason"])
        return self.render([self.returns().get(pk=pk)], status.HTTP_202_ACCEPTED)
