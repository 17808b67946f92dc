"""The one DRF exception handler: every error as `{"code", "detail", "errors"?}` JSON.

Domain errors (an invalid order, a reused idempotency key, an order too far to cancel, a bad
webhook signature) become the status the contract names; DRF's own errors keep their status
and headers (WWW-Authenticate, Retry-After, Allow). Validation errors carry field-level
messages under `errors`, nested like the request body. A database that does not answer is a
503 with Retry-After (fulfillment.api.server_errors answers the same outside the views).
"""

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import (
    APIException,
    ErrorDetail,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationError,
)
from rest_framework.views import exception_handler

from fulfillment.api.authentication import NO_CREDENTIALS
from fulfillment.api.errors import IdempotencyKeyReused, InvalidSignature, OrderBusy, OrderNotCancellable
from fulfillment.api.server_errors import DATABASE_ERRORS, DATABASE_RETRY_AFTER, UNAVAILABLE_DETAIL
from fulfillment.errors import AddressNotChangeable, InvalidOrder, InvalidReturn, ReturnNotAllowed
from processes.exceptions import ProcessStateError

DOMAIN_ERRORS = [
    (IdempotencyKeyReused, status.HTTP_422_UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
    (OrderNotCancellable, status.HTTP_409_CONFLICT, "not_cancellable"),
    (OrderBusy, status.HTTP_409_CONFLICT, "order_busy"),
    (ReturnNotAllowed, status.HTTP_409_CONFLICT, "return_not_allowed"),
    (AddressNotChangeable, status.HTTP_409_CONFLICT, "address_not_changeable"),
    (ProcessStateError, status.HTTP_409_CONFLICT, "conflict"),
    (InvalidSignature, status.HTTP_400_BAD_REQUEST, "invalid_signature"),
    (ObjectDoesNotExist, status.HTTP_404_NOT_FOUND, "not_found"),
]
INVALID_DETAIL = "Some fields are not valid: see errors."


class DomainError(APIException):
    """A domain error dressed for DRF: its status, a code and the domain's message."""

    def __init__(self, status_code: int, code: str, detail: str, wait: int | None = None):
        self.status_code, self.wait = status_code, wait
        super().__init__(detail, code)


def api_exception_handler(exc, context):
    exc = _as_api_exception(exc)
    response = exception_handler(exc, context)
    if response is not None:
        response.data = error_body(exc, response.data)
    return response


def error_body(exc: Exception, data) -> dict:
    if isinstance(exc, ValidationError):
        errors = data if isinstance(data, dict) else {"non_field_errors": data}
        return {"code": "invalid", "detail": INVALID_DETAIL, "errors": errors}
    detail = data.get("detail", "") if isinstance(data, dict) else data
    code = exc.get_codes() if isinstance(exc, APIException) else "error"
    return {"code": code if isinstance(code, str) else "error", "detail": str(detail)}


def _as_api_exception(exc: Exception) -> Exception:
    if isinstance(exc, NotAuthenticated):
        # Changed in place: the view set its WWW-Authenticate challenge on this very exception.
        exc.detail = ErrorDetail(NO_CREDENTIALS, code=exc.default_code)
        return exc
    if isinstance(exc, InvalidOrder | InvalidReturn):
        return ValidationError({"non_field_errors": [str(exc)]})
    if isinstance(exc, Http404):
        return NotFound(*exc.args)
    if isinstance(exc, DjangoPermissionDenied):
        return PermissionDenied(*exc.args)
    if isinstance(exc, DATABASE_ERRORS):
        return DomainError(
            status.HTTP_503_SERVICE_UNAVAILABLE, "unavailable", UNAVAILABLE_DETAIL, wait=DATABASE_RETRY_AFTER
        )
    for kind, status_code, code in DOMAIN_ERRORS:
        if isinstance(exc, kind):
            wait = 1 if isinstance(exc, OrderBusy) else None
            return DomainError(status_code, code, str(exc) or code.replace("_", " "), wait)
    return exc
