"""The API's settings, read lazily from `settings.API` (and PAYMENT_WEBHOOK_SECRET) with defaults.

Read at call time, never at import, so tests can override them; `fulfillment.api.checks`
refuses bad values at start-up with a message that names the key.
"""

from django.conf import settings

from processes.app_settings import AppSettings

DEFAULTS = {
    # Most lines one order may have, and the largest quantity of one line.
    "MAX_LINES": 50,
    "MAX_QUANTITY": 100,
    # Largest request body accepted, in bytes (orders and webhooks).
    "MAX_BODY_BYTES": 64 * 1024,
    # Seconds an idempotency key keeps answering with its order; the contract promises 24 hours.
    "IDEMPOTENCY_KEY_TTL": 24 * 3600,
    # Requests one client may make (DRF rate: "<n>/<s|min|hour|day>"), and one webhook sender
    # (by address), counted in fixed windows of that length (fulfillment/api/rate_windows.py).
    "THROTTLE_RATE": "120/min",
    "WEBHOOK_THROTTLE_RATE": "600/min",
    # Failed token authentications one address may make; past it, 429 before a token is read.
    "TOKEN_FAILURE_RATE": "20/min",
    # Where the limits count, shared by every process serving the API: a Redis URL, or "" for
    # the database (the api_ratewindow table). A Redis that does not answer lets requests through.
    "THROTTLE_REDIS_URL": "",
    # Proxies in front of the web servers, each appending to X-Forwarded-For; 0 trusts no
    # header and counts by REMOTE_ADDR (fulfillment/api/client_address.py).
    "NUM_PROXIES": 0,
    # Seconds a webhook's signed timestamp may be off from our clock (Stripe's default).
    "WEBHOOK_TOLERANCE": 300,
    # How long a cancel waits for a step that is running right now before answering 409.
    "CANCEL_WAIT_SECONDS": 2.0,
}


SETTINGS = AppSettings("API", DEFAULTS)
get = SETTINGS.get


def webhook_secret() -> str:
    return getattr(settings, "PAYMENT_WEBHOOK_SECRET", "") or ""
