# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/fulfillment)

.PHONY: run serve test lint venv migrate demo-data diagram clean chromium

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_schedules

demo-data: migrate
	$(PY) manage.py load_demo_data

# Web server, django-q2 workers and the simulated picker together; Ctrl-C stops them all.
run: demo-data
	$(PY) manage.py collectstatic --noinput -v0
	$(PY) manage.py serve

# Production-like on one machine: DJANGO_ENV=production on PostgreSQL and Redis, the Procfile's
# release step, then gunicorn and run_workers (which runs the sweeper beside them). Needs SECRET_KEY.
# Plain HTTP here, so no HTTPS redirect; /metrics answers this machine only.
# gunicorn listens on this machine only, at http://127.0.0.1:8000 (honcho would hand the web
# process PORT=5000 and gunicorn.conf.py's platform default is 0.0.0.0:$PORT); to be reached
# from elsewhere: make serve GUNICORN_BIND=0.0.0.0:8000. honcho's own PORT follows the bind.
SERVE_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/fulfillment)
SERVE_REDIS_URL ?= $(or $(REDIS_URL),redis://127.0.0.1:6379/0)
SERVE_BIND ?= $(or $(GUNICORN_BIND),127.0.0.1:8000)
SERVE_PORT = $(lastword $(subst :, ,$(SERVE_BIND)))
SERVE_ENV = PATH="$(CURDIR)/$(VENV)/bin:$$PATH" DJANGO_ENV=production \
	DATABASE_URL='$(SERVE_DATABASE_URL)' REDIS_URL='$(SERVE_REDIS_URL)' GUNICORN_BIND='$(SERVE_BIND)' \
	ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" \
	SECURE_SSL_REDIRECT="$${SECURE_SSL_REDIRECT:-false}" \
	METRICS_ALLOWED_IPS="$${METRICS_ALLOWED_IPS:-127.0.0.1,::1}"
serve: venv
	@test -n "$$SECRET_KEY" || { echo 'make serve runs as production: set SECRET_KEY, e.g.' \
	  'export SECRET_KEY=$$($(PY) -c "from django.core.management.utils import get_random_secret_key as k; print(k())")'; exit 1; }
	@case '$(SERVE_PORT)' in ''|*[!0-9]*) echo "make serve: GUNICORN_BIND='$(SERVE_BIND)' is not HOST:PORT" \
	  "(e.g. 127.0.0.1:8000, 0.0.0.0:8000, [::1]:8000)"; exit 1;; esac
	@DATABASE_URL='$(SERVE_DATABASE_URL)' $(PY) -m fulfillment.dbcheck
	$(SERVE_ENV) sh -c "$$(sed -n 's/^release: //p' Procfile)"
	$(SERVE_ENV) $(VENV)/bin/honcho start -f Procfile --port $(SERVE_PORT) web worker

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The browser tests drive Debian's Chromium (never a browser downloaded by Playwright).
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q
chromium:
	@test -x /usr/bin/chromium || $(APT_INSTALL) chromium || (apt-get update -q && $(APT_INSTALL) chromium)

# Four processes (pytest-xdist) on two cores: the soaks, the infra soak and the other tests
# that start clusters mostly wait on their workers; they run in a group each beside the rest
# (tests/conftest.py). Three took 10-11 minutes where four take 8-9.
PYTEST_ARGS ?= --numprocesses 4 --dist loadgroup
test: venv chromium
	@DATABASE_URL='$(TEST_DATABASE_URL)' $(PY) -m fulfillment.dbcheck
	$(MAKE) --no-print-directory lint
	DATABASE_URL='$(TEST_DATABASE_URL)' $(PY) -m pytest $(PYTEST_ARGS)

# change_address keeps the order's state (from any state before the pick): drawn, it joins every
# state to every other and hides the flow.
diagram: venv
	$(PY) manage.py graph_transitions fulfillment.Order.state --exclude change_address -o docs/order-states.png

clean:
	rm -rf $(VENV) var
