"""System checks that refuse a misconfigured API before it serves a request."""

import re

from django.core.checks import Error, Warning, register

from fulfillment.api import conf

RATE = re.compile(r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$")
RATES = ("THROTTLE_RATE", "WEBHOOK_THROTTLE_RATE", "TOKEN_FAILURE_RATE")
MAX_PROXIES = 10
ENVIRONMENT = {"THROTTLE_RATE": "API_THROTTLE_RATE", "TOKEN_FAILURE_RATE": "API_TOKEN_FAILURE_RATE"}
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
NUMBERS = ("MAX_LINES", "MAX_QUANTITY", "MAX_BODY_BYTES", "IDEMPOTENCY_KEY_TTL", "WEBHOOK_TOLERANCE")


@register()
def check_api_settings(app_configs=None, **kwargs):
    values = conf.SETTINGS.values()
    errors = [
        Error(f"API[{key!r}] is not a setting of the API.", id="api.E001") for key in conf.SETTINGS.unknown()
    ]
    for key in NUMBERS:
        value = values[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            errors.append(Error(f"API[{key!r}]={value!r} must be a whole number >= 1.", id="api.E002"))
    for key in RATES:
        if not isinstance(values[key], str) or not RATE.match(values[key]):
            source = f" (from {ENVIRONMENT[key]})" if key in ENVIRONMENT else ""
            errors.append(
                Error(
                    f"API[{key!r}]={values[key]!r}{source} must look like '120/min' (s, min, hour, day).",
                    id="api.E003",
                )
            )
    wait = values["CANCEL_WAIT_SECONDS"]
    if isinstance(wait, bool) or not isinstance(wait, int | float) or not 0 <= wait <= 30:
        errors.append(
            Error(f"API['CANCEL_WAIT_SECONDS']={wait!r} must be a number from 0 to 30.", id="api.E006")
        )
    if isinstance(values["IDEMPOTENCY_KEY_TTL"], int) and values["IDEMPOTENCY_KEY_TTL"] < 24 * 3600:
        errors.append(Error("API['IDEMPOTENCY_KEY_TTL'] must be at least 86400 (24 hours).", id="api.E004"))
    return errors + _client_address_errors(values) + _throttle_store_errors(values)


def _client_address_errors(values: dict) -> list[Error]:
    proxies = values["NUM_PROXIES"]
    if isinstance(proxies, bool) or not isinstance(proxies, int) or not 0 <= proxies <= MAX_PROXIES:
        message = (
            f"API['NUM_PROXIES']={proxies!r} (from NUM_PROXIES) must be a whole number from 0 to "
            f"{MAX_PROXIES}: the proxies in front of the web servers that append to X-Forwarded-For."
        )
        return [Error(message, id="api.E007")]
    return []


def _throttle_store_errors(values: dict) -> list[Error]:
    url = values["THROTTLE_REDIS_URL"]
    if isinstance(url, str) and (not url or url.startswith(REDIS_SCHEMES)):
        return []
    message = (
        f"API['THROTTLE_REDIS_URL']={url!r} (from API_THROTTLE_REDIS_URL or REDIS_URL) must be a "
        "redis://, rediss:// or unix:// URL, or empty to count in the database."
    )
    return [Error(message, id="api.E005")]


@register(deploy=True)
def check_webhook_secret(app_configs=None, **kwargs):
    """A deployment concern (`manage.py check --deploy`): `make run` works without webhooks."""
    if conf.webhook_secret():
        return []
    return [
        Warning(
            "PAYMENT_WEBHOOK_SECRET is not set: /api/webhooks/payments/ refuses every event.", id="api.W001"
        )
    ]
