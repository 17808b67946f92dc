"""The Procfile's web process: gunicorn with the production settings answers probes and metrics.

gunicorn runs against the test database (committed data, as a real server would see it), with
DJANGO_ENV=production; the test stops it, and waits for its database session to end, before
pytest flushes the tables.
"""

import contextlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from processes import clock
from processes.models.workers import SweeperLease
from processes.sweeper import LOOP_LEASE
from tests.cluster.conftest import APP_NAME, cluster_environment
from tests.external_processes import wait_for_sessions_to_close
from tests.ops.conftest import METRICS_TOKEN

pytestmark = pytest.mark.django_db(transaction=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, **headers: str) -> tuple[int, dict, str]:
    request = urllib.request.Request(url, headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture
def gunicorn(tmp_path: Path):
    """Start `gunicorn fulfillment.wsgi` as the Procfile does; yields its base URL."""
    if connection.vendor != "postgresql":
        pytest.skip("gunicorn needs the shared PostgreSQL test database")
    port = free_port()
    env = cluster_environment(
        DJANGO_ENV="production",
        ALLOWED_HOSTS="shop.example.com",
        SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        METRICS_TOKEN=METRICS_TOKEN,
        PORT=str(port),
        WEB_CONCURRENCY="1",
    )
    log_path = tmp_path / "gunicorn.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "fulfillment.wsgi"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, server, log_path)
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        print(log_path.read_text(errors="replace"))
        wait_for_sessions_to_close(APP_NAME, timeout=10.0)


def _wait_until_up(base: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{log_path.read_text()}")
        with contextlib.suppress(OSError):
            if get(f"{base}/healthz")[0] == 200:
                return
        time.sleep(0.2)
    raise AssertionError(f"gunicorn did not answer in 30 s:\n{log_path.read_text()}")


def test_gunicorn_serves_probes_metrics_and_https_only_pages(gunicorn):
    SweeperLease.objects.update_or_create(
        name=LOOP_LEASE, defaults={"owner": "host:1:x", "lease_until": clock.now() + timedelta(seconds=30)}
    )

    status, _, body = get(f"{gunicorn}/readyz")
    assert (status, '"status": "ok"' in body) == (200, True), body

    status, headers, body = get(f"{gunicorn}/metrics", Authorization=f"Bearer {METRICS_TOKEN}")
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'fulfillment_orders{state="completed"} 0.0' in body

    assert get(f"{gunicorn}/metrics")[0] == 401
    status, headers, _ = get(f"{gunicorn}/admin/login/", Host="shop.example.com")
    assert (status, headers["Location"]) == (301, "https://shop.example.com/admin/login/")
    status, headers, _ = get(
        f"{gunicorn}/admin/login/", Host="shop.example.com", **{"X-Forwarded-Proto": "https"}
    )
    assert status == 200
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert len(headers["X-Request-ID"]) == 32
