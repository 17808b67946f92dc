"""Token authentication that stops listening to an address after too many wrong tokens.

Each failed token authentication from an address is counted (fulfillment.api.rate_windows,
scope `api_token_failures`); once an address has failed API['TOKEN_FAILURE_RATE'] times in the
current window, its next attempts are answered 429 with Retry-After before the token is
looked up, so guessing tokens costs the guesser a window per handful of guesses. Requests that
send no token (session, none) are not counted. The check and the count are two steps: requests
already in flight when the limit is reached may each still fail once more.
"""

from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled

from fulfillment.api import conf
from fulfillment.api.client_address import client_address
from fulfillment.api.rate_windows import rate_parse, window_hit, window_peek

SCOPE = "api_token_failures"


class LimitedTokenAuthentication(TokenAuthentication):
    """DRF's `Authorization: Token <key>`, with failed attempts limited per client address."""

    def authenticate(self, request):
        if not _sends_token(request, self.keyword):
            return None
        address = client_address(request)
        limit, period = rate_parse(conf.get("TOKEN_FAILURE_RATE"))
        window = window_peek(scope=SCOPE, ident=address, period=period)
        if window is not None and window.hits >= limit:
            raise Throttled(wait=window.resets_in, detail="Too many failed token attempts from your address.")
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            window_hit(scope=SCOPE, ident=address, period=period)
            raise


def _sends_token(request, keyword: str) -> bool:
    words = get_authorization_header(request).split()
    return bool(words) and words[0].lower() == keyword.lower().encode()
