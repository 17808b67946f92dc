"""Which environment this is, and the settings production must not leave to chance.

`DJANGO_ENV=production` selects production. It is one explicit switch, independent of `DEBUG`:
production refuses to start without a strong `SECRET_KEY` from the environment, with `DEBUG`
on, or without `ALLOWED_HOSTS`, and turns HTTPS-only cookies, the HTTPS redirect and HSTS on
by default. Unset (or `development`), `make run` and `make test` keep working on a bare
machine with the key generated in var/.
"""

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from fulfillment.environment import env_str

ENVIRONMENTS = ("development", "production")
# Proxy headers Django may trust to say the original request was HTTPS (SECURE_PROXY_SSL_HEADER).
PROXY_SSL_HEADERS = {"X-Forwarded-Proto": "HTTP_X_FORWARDED_PROTO", "X-Forwarded-Ssl": "HTTP_X_FORWARDED_SSL"}
MIN_SECRET_KEY_LENGTH = 50


def environment_is_production() -> bool:
    """True when DJANGO_ENV=production; anything but the two known names is refused."""
    name = env_str("DJANGO_ENV", "development").strip().lower() or "development"
    if name not in ENVIRONMENTS:
        raise ImproperlyConfigured(f"DJANGO_ENV={name!r} is not one of: {', '.join(ENVIRONMENTS)}.")
    return name == "production"


def production_secret_key() -> str:
    """SECRET_KEY from the environment, long and varied enough for `check --deploy`."""
    key = env_str("SECRET_KEY")
    if not key:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set in production (DJANGO_ENV=production), the same on every "
            "machine: django-q2 signs queued tasks with it. Make one with: python -c "
            "'from django.core.management.utils import get_random_secret_key as k; print(k())'"
        )
    if len(key) < MIN_SECRET_KEY_LENGTH or len(set(key)) < 5 or key.startswith("django-insecure-"):
        raise ImproperlyConfigured(
            f"SECRET_KEY is too weak for production: use at least {MIN_SECRET_KEY_LENGTH} random characters."
        )
    return key


def local_secret_key(var_dir: Path) -> str:
    """A random key made once per checkout in var/ (git-ignored), for when SECRET_KEY is unset.

    Every process of one installation must share the key: django-q2 signs queued tasks with
    it, and a worker with another key drops them as forged.
    """
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(exist_ok=True)
        draft = var_dir / f"secret_key.{os.getpid()}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(get_random_secret_key())
        try:
            os.link(draft, path)  # atomic: the first process to get here wins, others read its key
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def require_production_safety(*, debug: bool, allowed_hosts: list[str]) -> None:
    """Refuse the two settings that make a public deployment unsafe or unusable."""
    if debug:
        raise ImproperlyConfigured("DEBUG must be off in production (DJANGO_ENV=production).")
    if not allowed_hosts or "*" in allowed_hosts:
        raise ImproperlyConfigured(
            "ALLOWED_HOSTS must list this site's host names in production (no '*'), e.g. shop.example.com."
        )


def proxy_ssl_header(name: str) -> tuple[str, str] | None:
    """SECURE_PROXY_SSL_HEADER from a header name; unset trusts no proxy.

    Set it only when a proxy in front of every web server sets (and strips from clients) that
    header: Django then takes the request as HTTPS when the header says `https` (or `on`).
    """
    name = name.strip()
    if not name:
        return None
    for header, meta_key in PROXY_SSL_HEADERS.items():
        if name.lower() == header.lower():
            return (meta_key, "on" if header == "X-Forwarded-Ssl" else "https")
    raise ImproperlyConfigured(
        f"SECURE_PROXY_SSL_HEADER={name!r} is not one of: {', '.join(PROXY_SSL_HEADERS)}."
    )


def trusted_origins(origins: list[str]) -> list[str]:
    """CSRF_TRUSTED_ORIGINS, each a scheme and host such as https://shop.example.com."""
    for origin in origins:
        if not origin.startswith(("http://", "https://")):
            raise ImproperlyConfigured(
                f"CSRF_TRUSTED_ORIGINS entry {origin!r} must start with https:// (or http://)."
            )
    return origins
