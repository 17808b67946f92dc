"""The operations settings (`settings.OPS`), read lazily with defaults, and their parsers.

The parsers run in settings.py, so a bad environment value stops start-up with a message that
names the variable; the rest of the package reads `get(name)` at call time.
"""

import ipaddress

from django.core.exceptions import ImproperlyConfigured

from processes.app_settings import AppSettings

DEFAULTS = {
    # Bearer token that /metrics asks for ("Authorization: Bearer <token>"); "" accepts none.
    "METRICS_TOKEN": "",
    # Client networks (REMOTE_ADDR, never a forwarded header) /metrics answers without a token.
    "METRICS_ALLOWED_NETWORKS": [],
    # Seconds of step attempts the attempt and duration figures of /metrics cover.
    "METRICS_WINDOW": 300,
    # /readyz answers 503 when the sweeper loop has not been seen for this many seconds.
    "SWEEPER_MAX_LAG": 60.0,
}
MIN_TOKEN_LENGTH = 16
LOG_FORMATS = ("json", "plain")


SETTINGS = AppSettings("OPS", DEFAULTS)
get = SETTINGS.get


def metrics_token(raw: str) -> str:
    if raw and len(raw) < MIN_TOKEN_LENGTH:
        raise ImproperlyConfigured(f"METRICS_TOKEN must be at least {MIN_TOKEN_LENGTH} characters.")
    return raw


def networks(variable: str, items: list[str]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Addresses or CIDR networks (10.0.0.0/8, ::1), refused with the variable's name if malformed."""
    try:
        return [ipaddress.ip_network(item, strict=False) for item in items]
    except ValueError as error:
        raise ImproperlyConfigured(f"{variable}: {error}") from None


def log_format(raw: str, *, production: bool) -> str:
    value = raw.strip().lower() or ("json" if production else "plain")
    if value not in LOG_FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT={raw!r} is not one of: {', '.join(LOG_FORMATS)}.")
    return value
