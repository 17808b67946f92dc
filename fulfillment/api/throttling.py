"""Request rates per client and per webhook sender, counted in a cache every process shares.

DRF's throttles count in a cache: LocMemCache would give each server process its own count,
so they use `API['THROTTLE_CACHE']` (the database, or Redis when REDIS_URL is set). Rates are
read per request, so a changed setting applies at once.
"""

from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle, UserRateThrottle

from fulfillment.api import conf


class SharedCacheThrottle:
    """Take the rate from the API's settings and count in the shared cache."""

    rate_setting = ""

    @property
    def cache(self):
        return caches[conf.get("THROTTLE_CACHE")]

    def get_rate(self):
        return conf.get(self.rate_setting)


class ClientRateThrottle(SharedCacheThrottle, UserRateThrottle):
    """Requests per authenticated client (by user id)."""

    scope = "api_client"
    rate_setting = "THROTTLE_RATE"


class WebhookRateThrottle(SharedCacheThrottle, SimpleRateThrottle):
    """Webhook requests per sending address (they carry no credentials, only a signature)."""

    scope = "api_webhook"
    rate_setting = "WEBHOOK_THROTTLE_RATE"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
