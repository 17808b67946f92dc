"""Token authentication that stops listening to an address after too many wrong tokens.

Each failed token authentication from an address is counted (fulfillment.api.rate_windows,
scope `api_token_failures`); once an address has failed API['TOKEN_FAILURE_RATE'] times in the
current window, its next attempts are answered 429 with Retry-After before the token is
looked up, so guessing tokens costs the guesser a window per handful of guesses. Requests that
send no token (session, none) are not counted. The check and the count are two steps: requests
already in flight when the limit is reached may each still fail once more.

A badly formed header (a `Bearer` token, a key without `Token`, a `Token` without a key) is
answered 401 with a message that says how to send the token.
"""

from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from fulfillment.api import conf
from fulfillment.api.client_address import client_address
from fulfillment.api.rate_windows import rate_parse, window_hit, window_peek

SCOPE = "api_token_failures"


# How a client sends its token; every refusal of a badly formed header says it.
TOKEN_FORMAT = "'Authorization: Token <key>' (the word Token, a space, then your key)"
NO_CREDENTIALS = f"No credentials: send your API token as {TOKEN_FORMAT}."


class LimitedTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with failed attempts limited per client address.

    Any other Authorization header (`Bearer <token>`, a key without its `Token` prefix) is
    refused with a 401 that says how to send the token, rather than falling through to "no
    credentials"; it is not counted as a failed token, since no token was looked up."""

    def authenticate(self, request):
        words = get_authorization_header(request).split()
        if not words:
            return None
        if words[0].lower() != self.keyword.lower().encode():
            raise AuthenticationFailed(_wrong_scheme(words))
        address = client_address(request)
        limit, period = rate_parse(conf.get("TOKEN_FAILURE_RATE"))
        window = window_peek(scope=SCOPE, ident=address, period=period)
        if window is not None and window.hits >= limit:
            raise Throttled(wait=window.resets_in, detail="Too many failed token attempts from your address.")
        try:
            return self.authenticate_credentials(_token_key(words))
        except AuthenticationFailed:
            window_hit(scope=SCOPE, ident=address, period=period)
            raise


def _wrong_scheme(words: list[bytes]) -> str:
    scheme = words[0].decode("latin-1")[:20]
    if len(words) == 1:
        return f"The Authorization header has no 'Token' before the key: send {TOKEN_FORMAT}."
    return f"This API does not take {scheme} credentials: send your API token as {TOKEN_FORMAT}."


def _token_key(words: list[bytes]) -> str:
    """The key of a `Token <key>` header; AuthenticationFailed saying what is wrong with it."""
    if len(words) == 1:
        raise AuthenticationFailed(f"No key follows the word Token: send {TOKEN_FORMAT}.")
    if len(words) > 2:
        raise AuthenticationFailed(f"The key must be one word, without spaces: send {TOKEN_FORMAT}.")
    try:
        return words[1].decode()
    except UnicodeError:
        raise AuthenticationFailed(
            f"The key holds characters no API key has: send {TOKEN_FORMAT}, the key as you were given it."
        ) from None
