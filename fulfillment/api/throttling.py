"""Request rates per client and per webhook sender, counted atomically where every process sees them.

Each request adds one to its client's count in the current fixed window and is refused (429,
Retry-After: the seconds left in the window) once the count passes the rate; the counting is
fulfillment.api.rate_windows (Redis INCR, or one SQL upsert). Rates are read per request, so a
changed setting applies at once. When the count cannot be made (Redis down) the request goes
through: a rate limit is a guard against abuse, not a reason to refuse every order.
"""

from rest_framework.throttling import BaseThrottle

from fulfillment.api import conf
from fulfillment.api.client_address import client_address
from fulfillment.api.rate_windows import rate_parse, window_hit


class WindowThrottle(BaseThrottle):
    """Allow `conf.get(rate_setting)` requests per window and per `ident(request)`."""

    scope = ""
    rate_setting = ""

    def allow_request(self, request, view) -> bool:
        limit, period = rate_parse(conf.get(self.rate_setting))
        window = window_hit(scope=self.scope, ident=self.ident(request), period=period)
        self.resets_in = window.resets_in if window else None
        return window is None or window.hits <= limit

    def wait(self) -> int | None:
        return self.resets_in

    def ident(self, request) -> str:
        return client_address(request)


class ClientRateThrottle(WindowThrottle):
    """Requests per authenticated client (by user id; by address before authentication)."""

    scope = "api_client"
    rate_setting = "THROTTLE_RATE"

    def ident(self, request) -> str:
        user = request.user
        return f"user:{user.pk}" if user and user.is_authenticated else f"address:{client_address(request)}"


class WebhookRateThrottle(WindowThrottle):
    """Webhook requests per sending address (they carry no credentials, only a signature)."""

    scope = "api_webhook"
    rate_setting = "WEBHOOK_THROTTLE_RATE"
