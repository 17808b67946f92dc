"""Django settings for the fulfillment service, configured from the environment.

Nothing set: an SQLite file and django-q2's ORM broker, so `make run` works on a bare machine.
`DATABASE_URL=postgres://...` selects PostgreSQL; `REDIS_URL` selects the Redis broker.
"""

from decimal import Decimal
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from fulfillment.environment import (
    env_bool,
    env_float,
    env_int,
    env_list,
    env_shares,
    env_str,
    redis_url_with_timeouts,
)
from fulfillment.ops import conf as ops_conf
from fulfillment.ops import production
from fulfillment.ops.json_logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

# DJANGO_ENV=production: a SECRET_KEY from the environment, no DEBUG, HTTPS by default
# (fulfillment/ops/production.py). Unset, `make run` and `make test` work on a bare machine.
PRODUCTION = production.environment_is_production()
DEBUG = env_bool("DEBUG", default=False)

if PRODUCTION:
    SECRET_KEY = production.production_secret_key()
else:
    SECRET_KEY = env_str("SECRET_KEY") or production.local_secret_key(VAR_DIR)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["127.0.0.1", "localhost"])
if PRODUCTION:
    production.require_production_safety(debug=DEBUG, allowed_hosts=ALLOWED_HOSTS)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",  # builds the order search's trigram indexes (OpClass); idle on SQLite
    "django_fsm",
    "django_q",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "processes",
    "fulfillment.apps.FulfillmentConfig",
    "fulfillment.simulators",
    # The proving tools (soak, bench, demo data...): an app only so that their commands are found.
    "fulfillment.proving",
    "fulfillment.api.apps.ApiConfig",
]

MIDDLEWARE = [
    # /healthz, /readyz, /metrics first: probed over plain HTTP with an internal address as Host.
    "fulfillment.ops.middleware.OpsEndpointsMiddleware",
    # Under /api/, any 5xx below here answers the API's JSON error (503 while the database is away).
    "fulfillment.api.server_errors.ApiServerErrorsMiddleware",
    "log_request_id.middleware.RequestIDMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "fulfillment.urls"
WSGI_APPLICATION = "fulfillment.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]


def _database_from_environment() -> dict:
    url = env_str("DATABASE_URL")
    if not url:
        VAR_DIR.mkdir(exist_ok=True)
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "fulfillment.sqlite3",
            # The web server and the workers write at once: IMMEDIATE makes a transaction take
            # the write lock up front (no failed read-to-write upgrade), WAL lets readers go on.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    try:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Django knows: {exc}") from None
    if config["ENGINE"] != "django.db.backends.postgresql":
        raise ImproperlyConfigured("DATABASE_URL must be postgres://...; leave it unset for SQLite.")
    # A server that stops answering must fail a connection attempt (and /readyz) in seconds,
    # not hang it; keepalives notice a peer that vanished under an open connection.
    config.setdefault("OPTIONS", {}).update(
        connect_timeout=5, keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3
    )
    if env_bool("DB_PREPARED_STATEMENTS", True):
        # A worker sends the same few statements for every step (lock, claim, apply, journal):
        # bound on the server and prepared from their second use, PostgreSQL parses and plans
        # each once per connection, which cut its CPU per no-op workflow by about a third
        # (docs/performance.md). Off for a pooler that cannot keep prepared statements
        # (PgBouncer in transaction mode before 1.21).
        config["OPTIONS"].update(server_side_binding=True, prepare_threshold=2)
    return config


_default_db = _database_from_environment()
DATABASES = {
    "default": _default_db,
    # The service simulators keep their ledgers through their own connection, as a remote
    # service would: their writes commit on their own, whatever our transaction does.
    "simulators": {**_default_db, "TEST": {"MIRROR": "default"}},
}
DATABASE_ROUTERS = ["fulfillment.simulators.routers.SimulatorRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL")
Q_CLUSTER = {
    # Also the broker's queue key: deployments (or test runs) sharing one Redis need their own.
    "name": env_str("Q_CLUSTER_NAME", "fulfillment"),
    # Steps mostly wait on other services, so more workers than cores pay off. Under
    # `run_workers` all of them run steps (the sweeper is a process of its own beside them); a
    # bare qcluster lends one to the sweeper loop task, hence at least two.
    "workers": env_int("Q_WORKERS", 4, minimum=2),
    # The engine keeps its own journal and retries: django-q2 must not re-run a failed task.
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": -1,
    # A task may run this long (a bare qcluster's sweeper loop task is the longest, see
    # processes.conf);
    # `retry` must exceed it, or the ORM broker hands a running task out a second time.
    "timeout": 90,
    "retry": 120,
    "catch_up": False,
    "poll": 0.2,
    # The database broker's pusher takes up to this many waiting tasks in one statement while
    # the queue is under load, one otherwise (processes.orm_broker; the Redis broker's take is
    # processes.redis_dequeue.TAKE_AT_MOST): under load a quarter of the statements and commits.
    # Taken early, a task waits in the cluster's own queue, where django-q2 already holds up to
    # workers² ahead; its lock still runs `retry`.
    "bulk": 4,
    "label": "Task queue",
}
if REDIS_URL:
    # A web request enqueues its wake-ups through this broker: a Redis that does not answer must
    # fail the enqueue within seconds (the sweeper re-sends it later), not hang the request.
    # The read timeout stays above the workers' 1 s BLPOP; redis-py tries up to four times.
    Q_CLUSTER["redis"] = redis_url_with_timeouts(REDIS_URL, connect=0.5, read=3.0)
else:
    Q_CLUSTER["orm"] = "default"
# django-q2's own brokers, noting each task a cluster takes for its supervisor (run_workers).
Q_CLUSTER["broker_class"] = (
    "processes.worker_heartbeat.RedisBroker" if REDIS_URL else "processes.worker_heartbeat.OrmBroker"
)

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# A sign-in without a safe `next` lands on its role's pages (fulfillment/landing.py), not on
# Django's default /accounts/profile/, which this site does not have.
LOGIN_REDIRECT_URL = "landing"

LANGUAGE_CODE = "en-us"
FORMAT_MODULE_PATH = ["fulfillment.formats"]  # every page writes "2026-12-06 10:00:12 UTC"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root before collectstatic
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "fulfillment.simulators.mailbox.LedgerEmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "orders@fulfillment.localhost")
# Alerts to operators start with this (Django's default is "[Django] ", which says nothing).
EMAIL_SUBJECT_PREFIX = env_str("EMAIL_SUBJECT_PREFIX", "[Fulfillment] ")
ADMINS = [("Operators", env_str("OPERATORS_EMAIL", "operators@fulfillment.localhost"))]
SERVER_EMAIL = env_str("SERVER_EMAIL", "alerts@fulfillment.localhost")
# Seconds an SMTP connection may take before a send fails: the outbox delivers alerts from the
# sweeper loop (processes/outbox.py), which a mail server that hangs must not stall.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, minimum=0.1, maximum=300)
# Where people reach this site: links in emails (needs-attention alerts) start with it.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r} must start with http:// or https://.")

# One JSON object per line in production (LOG_FORMAT=json|plain), see fulfillment/ops/json_logs.py.
LOGGING = logging_config(log_format=ops_conf.log_format(env_str("LOG_FORMAT"), production=PRODUCTION))
# Request ids (django-log-request-id): taken from the proxy's X-Request-ID or made, sent back in
# the response, on every log line of the request; one line per request in production.
LOG_REQUEST_ID_HEADER = "HTTP_X_REQUEST_ID"
GENERATE_REQUEST_ID_IF_NOT_IN_HEADER = True
REQUEST_ID_RESPONSE_HEADER = "X-Request-ID"
LOG_REQUESTS = env_bool("LOG_REQUESTS", PRODUCTION)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # One handler turns every error into {"code", "detail", "errors"} JSON (fulfillment/api).
    "EXCEPTION_HANDLER": "fulfillment.api.exception_handler.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Fulfillment API",
    "DESCRIPTION": (
        "Place orders exactly once, follow them through their steps, cancel them. Authenticate with "
        "your API token in the header `Authorization: Token <key>` (not `Bearer`)."
    ),
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from the installed drf-spectacular-sidecar package: nothing from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "OrderStatusEnum": "fulfillment.models.OrderState",
        "ReturnStatusEnum": "fulfillment.models.ReturnState",
    },
    # The token first in Swagger UI's Authorize dialog (fulfillment/api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "fulfillment.api.schema.token_scheme_first",
    ],
}
# The client API's limits; the other keys and their defaults are in fulfillment/api/conf.py.
API = {
    "THROTTLE_RATE": env_str("API_THROTTLE_RATE", "120/min"),
    # Failed token authentications one address may make before it is refused without a look.
    "TOKEN_FAILURE_RATE": env_str("API_TOKEN_FAILURE_RATE", "20/min"),
    # Proxies in front of the web servers that append to X-Forwarded-For (0: REMOTE_ADDR only).
    "NUM_PROXIES": env_int("NUM_PROXIES", 0),
    # Where the rate limits count: a Redis URL (REDIS_URL's by default), or "" for the database.
    "THROTTLE_REDIS_URL": env_str("API_THROTTLE_REDIS_URL", REDIS_URL),
}
# Shared secret of the payment provider's webhook signatures; unset refuses every webhook.
PAYMENT_WEBHOOK_SECRET = env_str("PAYMENT_WEBHOOK_SECRET")
# The carrier's, for its parcel events (/api/webhooks/carrier/); unset, they are all refused.
CARRIER_WEBHOOK_SECRET = env_str("CARRIER_WEBHOOK_SECRET")

# The engine's own knobs; see processes/conf.py for their meaning and defaults.
PROCESSES = {
    "SWEEP_INTERVAL": env_float("SWEEP_INTERVAL", 0.5, minimum=0.05, maximum=60),
    "REDELIVER_AFTER": env_float("REDELIVER_AFTER", 30.0, minimum=1, maximum=3600),
    # Bulk redrives (processes.flow): processes retried per transaction, and how long a
    # redrive's task may stay silent before the sweeper takes it as dead and starts it again.
    "REDRIVE_BATCH": env_int("REDRIVE_BATCH", 50, minimum=1),
    "REDRIVE_STALE": env_float("REDRIVE_STALE", 30.0, minimum=1, maximum=3600),
    # Seconds a circuit stays closed before its incident ends and the "closed" alert goes out.
    "CIRCUIT_SETTLE": env_float("CIRCUIT_SETTLE", 120.0, minimum=0.1, maximum=86400),
    # Where published service limits keep their shared state: unset, the database; a Redis URL
    # (REDIS_URL's, say) spares the database a row lock per limited call.
    "LIMITS_REDIS_URL": env_str("LIMITS_REDIS_URL"),
    # Worker supervision (`manage.py run_workers`): seconds a task may wait inside a cluster
    # while a worker sits idle before the cluster is replaced, and a stop's grace.
    "WORKER_WEDGE_AFTER": env_float("WORKER_WEDGE_AFTER", 30.0, minimum=1, maximum=3600),
    "WORKER_STOP_GRACE": env_float("WORKER_STOP_GRACE", 20.0, minimum=1, maximum=600),
    # Seconds the supervisor's sweeper process may go without a sign of life before it is
    # killed and forked again.
    "SWEEPER_WEDGE_AFTER": env_float("SWEEPER_WEDGE_AFTER", 30.0, minimum=1, maximum=3600),
}

# Circuit breakers of the order steps that call a service (fulfillment/steps.py): seconds a
# step waits after its circuit opens before one order probes the service, doubling after each
# failed probe up to the cap. Soaks and demos in compressed time shorten them.
CIRCUIT_COOLDOWN = env_float("CIRCUIT_COOLDOWN", 30.0, minimum=0.1, maximum=3600)
CIRCUIT_COOLDOWN_CAP = env_float(
    "CIRCUIT_COOLDOWN_CAP", max(300.0, CIRCUIT_COOLDOWN), minimum=0.1, maximum=86400
)
if CIRCUIT_COOLDOWN_CAP < CIRCUIT_COOLDOWN:
    raise ImproperlyConfigured(
        f"CIRCUIT_COOLDOWN_CAP={CIRCUIT_COOLDOWN_CAP:g} must be at least "
        f"CIRCUIT_COOLDOWN={CIRCUIT_COOLDOWN:g}."
    )

# Limits the carrier publishes for an account (fulfillment/steps.py): calls per second and
# calls at once, kept across every worker and machine, per carrier account; a label call over
# them waits its turn without spending an attempt (processes/flow/limits.py). 0: none.
CARRIER_RATE_LIMIT = env_float("CARRIER_RATE_LIMIT", 0.0, maximum=10_000)
CARRIER_CONCURRENCY_LIMIT = env_int("CARRIER_CONCURRENCY_LIMIT", 0)

# Fault injection of the service simulators; see fulfillment/simulators/faults.py.
SIMULATORS = {
    "TRANSIENT_ERROR_RATE": env_float("SIM_TRANSIENT_ERROR_RATE", 0.05, maximum=1),
    "AMBIGUOUS_TIMEOUT_RATE": env_float("SIM_AMBIGUOUS_TIMEOUT_RATE", 0.02, maximum=1),
    "LATENCY_MS": env_int("SIM_LATENCY_MS", 0),
    # Services down for as long as this process runs (SIM_OUTAGE=carrier,payment); the admin's
    # outage switch takes one down at run time instead (fulfillment/simulators/outages.py).
    # Unknown service names are refused by the simulators' system check, which every command
    # runs before it starts (the settings do not import the simulators).
    "OUTAGE": env_list("SIM_OUTAGE", []),
    # Services that refuse a share of their calls for as long as this process runs, on top of
    # the rate above: SIM_DEGRADED=carrier:0.3 (the soak's `degraded` profile).
    "DEGRADED": env_shares("SIM_DEGRADED"),
}
# Seconds after which the simulated picker completes a pick task; unset disables it.
# 0 completes them at the next look; a negative value is refused. The default leaves a person
# on the warehouse pages a minute to claim a demo order's task first.
SIMULATED_PICKER_DELAY = (
    env_float("SIMULATED_PICKER_DELAY", 60.0) if env_bool("SIMULATED_PICKER", True) else None
)
# Seconds after which the demo's simulated carrier delivers the parcel of a return waiting for
# it, and its simulated inspector accepts every line of an open inspection (docs/returns.md).
# On by default for `make run`; off in production, and with SIMULATED_RETURNS=0.
_SIMULATED_RETURNS = env_bool("SIMULATED_RETURNS", not PRODUCTION)
SIMULATED_CARRIER_DELAY = env_float("SIMULATED_CARRIER_DELAY", 30.0) if _SIMULATED_RETURNS else None
SIMULATED_INSPECTOR_DELAY = env_float("SIMULATED_INSPECTOR_DELAY", 60.0) if _SIMULATED_RETURNS else None

# Registers the noop bench's workflow (fulfillment/proving/noop_workflow.py) in this process:
# `manage.py bench --workflow noop` sets it for the cluster it starts, and nothing else does.
BENCH_NOOP_WORKFLOW = env_bool("BENCH_NOOP_WORKFLOW", False)

# The external services behind fulfillment.gateways; the simulators are the default.
PAYMENT_GATEWAY = env_str("PAYMENT_GATEWAY", "fulfillment.simulators.payment.PaymentGatewaySimulator")
SHIPPING_CARRIER = env_str("SHIPPING_CARRIER", "fulfillment.simulators.carrier.CarrierSimulator")
# Seconds a pick task may stay open before the order is flagged for an operator.
PICK_TIMEOUT = env_int("PICK_TIMEOUT", 4 * 3600, minimum=1)
# Returns (docs/returns.md, each setting in docs/configuration.md); the inspection's in seconds.
RETURN_WINDOW_DAYS = env_int("RETURN_WINDOW_DAYS", 30, minimum=1)
RETURN_APPROVAL_THRESHOLD = Decimal(str(env_float("RETURN_APPROVAL_THRESHOLD", 200.0)))
RETURN_PARCEL_DEADLINE_DAYS = env_int("RETURN_PARCEL_DEADLINE_DAYS", 14, minimum=1)
RETURN_INSPECTION_TIMEOUT = env_int("RETURN_INSPECTION_TIMEOUT", 2 * 24 * 3600, minimum=1)
RETURN_APPROVAL_TIMEOUT = env_int("RETURN_APPROVAL_TIMEOUT", 7 * 24 * 3600, minimum=1)
# The warehouse floor's earlier timers, in seconds; see fulfillment/picking/conf.py.
WAREHOUSE = {
    "WARNING_AFTER": env_int("PICK_WARNING_AFTER", 3 * 3600, minimum=1),
    "UNCLAIMED_AFTER": env_int("PICK_UNCLAIMED_AFTER", 3600, minimum=1),
    "CLAIM_TIMEOUT": env_int("PICK_CLAIM_TIMEOUT", 1800, minimum=1),
    "SHIFT_LEAD_EMAIL": env_str("SHIFT_LEAD_EMAIL", "shift-lead@fulfillment.localhost"),
}

# HTTPS and the proxy in front (fulfillment/ops/production.py); on by default in production.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", PRODUCTION)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if not SECURE_HSTS_PRELOAD:
    # Asking browsers to preload the domain is the domain owner's decision, not a default.
    SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_PROXY_SSL_HEADER = production.proxy_ssl_header(env_str("SECURE_PROXY_SSL_HEADER"))
USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
CSRF_TRUSTED_ORIGINS = production.trusted_origins(env_list("CSRF_TRUSTED_ORIGINS", []))

# Health, readiness and metrics (fulfillment/ops); keys and defaults in fulfillment/ops/conf.py.
OPS = {
    "METRICS_TOKEN": ops_conf.metrics_token(env_str("METRICS_TOKEN")),
    "METRICS_ALLOWED_NETWORKS": ops_conf.networks("METRICS_ALLOWED_IPS", env_list("METRICS_ALLOWED_IPS", [])),
    "METRICS_WINDOW": env_int("METRICS_WINDOW", 300, minimum=10),
    "SWEEPER_MAX_LAG": env_float("READYZ_SWEEPER_MAX_LAG", 60.0, minimum=1, maximum=3600),
}
