"""OpenAPI helpers: the error responses and headers every operation documents, and how a
client authenticates.

Listing every status an operation can answer keeps the schema honest, and lets schemathesis
check each response against it (tests/api/test_schemathesis.py). The token comes first among
the security schemes, with the `Token` prefix explained: Swagger UI's Authorize dialog lists
them in the schema's order and sends what is typed as it is.
"""

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse

from fulfillment.api.serializers import ErrorOut

TOKEN_SCHEME = "tokenAuth"
TOKEN_HELP = (
    "For shops and other API clients. Type the word **Token**, a space, then your key, for example "
    "`Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b`: the whole value goes into the Authorization "
    "header as typed. `Bearer <key>` or the key alone is refused with 401. An operator makes a "
    "client and its key with `manage.py create_api_client <name>`."
)
SESSION_HELP = (
    "For people signed in to the admin in this browser: the session cookie goes along by itself, "
    "so there is nothing to type here. API clients use the token above."
)
ERROR_MEANINGS = {
    400: "Invalid input: `errors` holds the messages by field.",
    401: "No credentials, an Authorization header that is not `Token <key>`, or a token that is not valid.",
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


class TokenScheme(OpenApiAuthenticationExtension):
    """The API token as Swagger UI should offer it: a header value that includes `Token `."""

    target_class = "fulfillment.api.authentication.LimitedTokenAuthentication"
    name = TOKEN_SCHEME

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": TOKEN_HELP}


class SessionScheme(OpenApiAuthenticationExtension):
    """The admin's session, said to be for people in a browser, not for clients."""

    target_class = "rest_framework.authentication.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        cookie = settings.SESSION_COOKIE_NAME
        return {"type": "apiKey", "in": "cookie", "name": cookie, "description": SESSION_HELP}


def token_scheme_first(result, generator, request, public):
    """Put the token before the other security schemes (drf-spectacular sorts them by name, and
    `cookieAuth` would come first in Swagger UI's Authorize dialog)."""
    schemes = result.get("components", {}).get("securitySchemes")
    if schemes:
        ordered = sorted(schemes, key=lambda name: name != TOKEN_SCHEME)
        result["components"]["securitySchemes"] = {name: schemes[name] for name in ordered}
    return result
