"""Production is selected by DJANGO_ENV=production, refuses unsafe settings and passes check --deploy."""

import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from fulfillment.ops import conf, production
from tests.ops.conftest import production_environment


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_deploy_is_clean_in_production():
    """`manage.py check --deploy` with the production environment reports no issue at all."""
    done = manage("check", "--deploy", "--fail-level", "WARNING", env=production_environment())

    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues" in done.stdout


def test_production_settings_are_secure_by_default():
    """Secure cookies, the HTTPS redirect, a year of HSTS and JSON logs, without being asked."""
    script = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER, s.LOGGING['handlers']['console']['formatter'])"
    )
    done = manage("shell", "-c", script, env=production_environment())

    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[-2] == (
        "False True True True 31536000 ('HTTP_X_FORWARDED_PROTO', 'https') json"
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY must be set in production"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too weak for production"),
        ({"DEBUG": "true"}, "DEBUG must be off in production"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS must list this site's host names"),
        ({"DJANGO_ENV": "prod"}, "DJANGO_ENV='prod' is not one of"),
        ({"METRICS_ALLOWED_IPS": "10.0.0.300"}, "METRICS_ALLOWED_IPS"),
    ],
)
def test_production_refuses_unsafe_settings(overrides, message):
    """A production process does not start on a missing key, DEBUG, no hosts or a typo."""
    done = manage("check", env=production_environment(**overrides))

    assert done.returncode != 0
    assert message in done.stderr


def test_development_needs_no_environment():
    """Without DJANGO_ENV, `make run` and `make test` keep their generated key and plain logs."""
    assert not settings.PRODUCTION
    assert settings.SECRET_KEY
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("", None),
        ("X-Forwarded-Proto", ("HTTP_X_FORWARDED_PROTO", "https")),
        ("x-forwarded-ssl", ("HTTP_X_FORWARDED_SSL", "on")),
    ],
)
def test_proxy_ssl_header_is_a_known_header(name, expected):
    assert production.proxy_ssl_header(name) == expected


def test_unknown_proxy_header_is_refused():
    with pytest.raises(ImproperlyConfigured, match="SECURE_PROXY_SSL_HEADER='Via'"):
        production.proxy_ssl_header("Via")


def test_bad_ops_values_are_refused():
    with pytest.raises(ImproperlyConfigured, match="CSRF_TRUSTED_ORIGINS entry 'shop.example.com'"):
        production.trusted_origins(["shop.example.com"])
    with pytest.raises(ImproperlyConfigured, match="METRICS_TOKEN must be at least 16"):
        conf.metrics_token("short")
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT='xml'"):
        conf.log_format("xml", production=True)
