"""Under /api/, a failure on our side is JSON too: 503 while the database is away, else 500.

The API's contract is `{"code", "detail"}` JSON for every error. DRF's exception handler
(fulfillment.api.exception_handler) answers for what goes wrong inside an API view, database
errors included; `ApiServerErrorsMiddleware` answers for the rest: a plain Django view under
/api/, or a middleware below it that raised (the request log reads `request.user`, which
loads a session from the database). Django turns such an exception into its HTML error page
before this middleware sees the response, so the exception is remembered from Django's
`got_request_exception` signal and the HTML page is replaced. Django has logged it already.

A database that does not answer (or refuses for now: a restart, a failover, a deadlock)
raises OperationalError or InterfaceError: that is a 503 with Retry-After, which a client
may retry with the same idempotency key. Anything else is a 500, never an HTML page.
"""

import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

API_PREFIX = "/api/"
DATABASE_ERRORS = (OperationalError, InterfaceError)
# Seconds a client should wait before retrying while the database is away: a restart or a
# failover takes a few seconds to some tens.
DATABASE_RETRY_AFTER = 5
UNAVAILABLE_DETAIL = "The service cannot reach its database right now; retry after Retry-After seconds."
SERVER_ERROR_DETAIL = "Something went wrong on our side; it has been logged."
REMEMBERED = "_api_server_error"


def server_error_response(exc: BaseException | None) -> JsonResponse:
    """The JSON answer for an exception nothing else answered for."""
    if isinstance(exc, DATABASE_ERRORS):
        response = JsonResponse({"code": "unavailable", "detail": UNAVAILABLE_DETAIL}, status=503)
        response["Retry-After"] = str(DATABASE_RETRY_AFTER)
        return response
    return JsonResponse({"code": "server_error", "detail": SERVER_ERROR_DETAIL}, status=500)


def _remember_exception(sender, request=None, **kwargs) -> None:
    """Keep the exception Django is handling on its request (the signal does not carry it)."""
    if request is not None:
        setattr(request, REMEMBERED, sys.exc_info()[1])


class ApiServerErrorsMiddleware:
    """Turns every 5xx under /api/ that is not JSON into the API's JSON error (503 or 500).

    Place it above every middleware that may touch the database, so that their failures reach
    it as responses it can replace.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_remember_exception, dispatch_uid="api-server-errors")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(API_PREFIX) or response.status_code < 500 or _is_json(response):
            return response
        replacement = server_error_response(getattr(request, REMEMBERED, None))
        if "X-Request-ID" in response:
            replacement["X-Request-ID"] = response["X-Request-ID"]
        return replacement


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").startswith("application/json")
