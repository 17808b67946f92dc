"""gunicorn's settings for the web process (`gunicorn fulfillment.wsgi`, see Procfile).

Read by gunicorn from the working directory. Sync workers: each serves one request at a time
and keeps one database connection (two when a page reads the simulators' ledgers), so
WEB_CONCURRENCY × web servers bounds the web's share of PostgreSQL's connections.

Where it listens: GUNICORN_BIND when set (`make serve` sets 127.0.0.1:8000, this machine only),
else every interface on $PORT, as platforms that run the Procfile (Heroku, Dokku) expect: they
set PORT and route to it from outside. honcho and foreman set PORT too, to 5000 by default.
"""

from fulfillment.environment import env_int, env_str

bind = env_str("GUNICORN_BIND") or f"0.0.0.0:{env_int('PORT', 8000, minimum=1)}"
workers = env_int("WEB_CONCURRENCY", 3, minimum=1)
worker_class = "sync"
# A request may take this long before its worker is killed and replaced.
timeout = env_int("GUNICORN_TIMEOUT", 30, minimum=1)
graceful_timeout = 30
# Replace workers now and then, staggered, so a slow leak never takes a server down.
max_requests = 1000
max_requests_jitter = 100
# Django logs one JSON line per request with its request id (LOG_REQUESTS); no second access log.
accesslog = None
errorlog = "-"
# The proxy's X-Forwarded-Proto is believed only from these addresses (FORWARDED_ALLOW_IPS).
forwarded_allow_ips = env_str("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
