# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/fulfillment)

.PHONY: run test lint venv migrate demo-data diagram clean chromium

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

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The browser tests drive Debian's Chromium (never a browser downloaded by Playwright).
APT_INSTALL := DEBIAN_FRONTEND=noninteractive apt-get install -y -q
chromium:
	@test -x /usr/bin/chromium || $(APT_INSTALL) chromium || (apt-get update -q && $(APT_INSTALL) chromium)

test: venv chromium
	@DATABASE_URL='$(TEST_DATABASE_URL)' $(PY) -m fulfillment.dbcheck
	$(MAKE) --no-print-directory lint
	DATABASE_URL='$(TEST_DATABASE_URL)' $(PY) -m pytest $(PYTEST_ARGS)

diagram: venv
	$(PY) manage.py graph_transitions fulfillment.Order.state -o docs/order-states.png

clean:
	rm -rf $(VENV) var
