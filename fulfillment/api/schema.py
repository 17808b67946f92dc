"""OpenAPI helpers: the error responses and headers every operation documents.

Listing every status an operation can answer keeps the schema honest, and lets schemathesis
check each response against it (tests/api/test_schemathesis.py).
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from fulfillment.api.serializers import ErrorOut

ERROR_MEANINGS = {
    400: "Invalid input: `errors` holds the messages by field.",
    401: "No credentials, or a token that is not valid.",
    403: "Signed in by session without a CSRF token.",
    404: "No such order for this client (or no such page).",
    409: "The order's state does not allow this now; `detail` says why.",
    415: "The body is not application/json.",
    422: "This Idempotency-Key came before with a different body.",
    429: "Too many requests, or too many failed token attempts from this address: wait Retry-After seconds.",
    500: "A fault on our side, logged; the body is JSON all the same.",
    503: "The database is not answering: retry after Retry-After seconds (with the same Idempotency-Key).",
}
# Every operation may answer these, whatever it does.
SERVER_ERRORS = (500, 503)

RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    OpenApiTypes.INT,
    OpenApiParameter.HEADER,
    response=[429, 503],
    description="Seconds to wait.",
)


def error_responses(*codes: int) -> dict:
    return {
        code: OpenApiResponse(ErrorOut, description=ERROR_MEANINGS[code]) for code in (*codes, *SERVER_ERRORS)
    }
