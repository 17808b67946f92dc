"""Read the deployment's settings from environment variables, refusing bad values clearly.

Settings are the one place read at import time; everything here fails fast with a message that
names the variable and what it expected, so a typo never starts a half-configured service.
"""

import math
import os
from urllib.parse import parse_qsl, urlencode

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of 1/0, true/false, yes/no.")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}.")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None
    if not math.isfinite(value):
        raise ImproperlyConfigured(f"{name}={raw!r} is not a finite number.")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}{upper}.")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_shares(name: str) -> dict[str, float]:
    """`carrier:0.3,mail:0.1`: a share from 0 to 1 per name. The names are the reader's to
    check (the settings do not know them); a malformed entry stops start-up here."""
    shares = {}
    for entry in env_list(name, []):
        key, _, share = entry.partition(":")
        try:
            value = float(share)
        except ValueError:
            value = math.nan
        if not key.strip() or not 0 <= value <= 1:
            raise ImproperlyConfigured(
                f"{name} has {entry!r}: use name:share with a share from 0 to 1, e.g. carrier:0.3."
            )
        shares[key.strip()] = value
    return shares


def redis_url_with_timeouts(url: str, *, connect: float, read: float) -> str:
    """`url` with socket timeouts added unless it names its own (redis-py reads them from the
    query string), so that a Redis that stops answering fails a call in seconds instead of
    hanging it: with no timeout, redis-py waits on a dead host as long as the kernel does."""
    base, _, query = url.partition("?")
    options = dict(parse_qsl(query))
    options.setdefault("socket_connect_timeout", f"{connect:g}")
    options.setdefault("socket_timeout", f"{read:g}")
    return f"{base}?{urlencode(options)}"
