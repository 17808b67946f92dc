"""/healthz says the process answers; /readyz says the database, the broker and the sweeper do."""

from datetime import timedelta

import pytest

from fulfillment.ops import readiness
from processes import clock
from processes.models.workers import SweeperLease
from processes.sweeper import LOOP_LEASE

pytestmark = pytest.mark.django_db


def sweeper_lease(*, until_in: float | None) -> None:
    until = None if until_in is None else clock.now() + timedelta(seconds=until_in)
    SweeperLease.objects.update_or_create(
        name=LOOP_LEASE, defaults={"owner": "" if until is None else "host:1:abc", "lease_until": until}
    )


def test_healthz_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_ok_with_a_live_sweeper(client):
    sweeper_lease(until_in=2)

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == {"ok": True}
    assert body["checks"]["broker"] == {"ok": True}
    assert body["checks"]["sweeper"] == {"ok": True, "lag_seconds": 0.0, "max_lag_seconds": 60.0}


def test_readyz_fails_when_the_sweeper_stopped(client):
    """A lease that ran out longer ago than SWEEPER_MAX_LAG: the sweeper is gone, answer 503."""
    sweeper_lease(until_in=-120)

    response = client.get("/readyz")

    assert response.status_code == 503
    sweeper = response.json()["checks"]["sweeper"]
    assert sweeper["ok"] is False and sweeper["lag_seconds"] >= 120


def test_readyz_fails_when_no_sweeper_was_ever_seen(client):
    sweeper_lease(until_in=None)

    response = client.get("/readyz")

    assert response.status_code == 503
    assert "no sweeper loop seen yet" in response.json()["checks"]["sweeper"]["error"]


def test_readyz_tolerates_a_sweeper_handing_over(client):
    """Between two loops the lease is free for a moment and keeps its time: still alive."""
    sweeper_lease(until_in=2)
    SweeperLease.objects.filter(name=LOOP_LEASE).update(owner="")  # as a loop hands over

    assert client.get("/readyz").status_code == 200


def test_every_web_process_reads_the_same_sweeper_lag(client):
    """The lag comes from the database, not from what one process saw last: by hand, gunicorn's
    workers answered 200 and 503 in turn (92 s of lag in one, 15 s in the other)."""
    sweeper_lease(until_in=-15)
    SweeperLease.objects.filter(name=LOOP_LEASE).update(owner="")

    lags = {readiness.SweeperHeartbeat().lag_seconds() // 1 for _ in range(3)}

    assert lags == {15.0}


def test_readyz_fails_when_the_broker_does_not_answer(client, monkeypatch):
    sweeper_lease(until_in=2)

    def refuse():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(readiness.broker(), "ping", refuse)
    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"] == {
        "ok": False,
        "error": "ConnectionError: Error 111 connecting to 127.0.0.1:6379. Connection refused.",
    }


def test_readyz_fails_when_the_database_does_not_answer(client, monkeypatch):
    def refuse():
        raise OSError("connection refused")

    monkeypatch.setattr("fulfillment.ops.health.database_reachable", refuse)
    response = client.get("/readyz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["database"] == {"ok": False, "error": "OSError: connection refused"}
    assert checks["sweeper"]["ok"] is False


def test_probes_answer_any_host_over_plain_http(client, settings):
    """Load balancers probe each server by its address over HTTP: no 400, no HTTPS redirect."""
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    sweeper_lease(until_in=2)

    assert client.get("/healthz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/readyz", HTTP_HOST="10.0.0.7:8000").status_code == 200
    assert client.get("/admin/login/", HTTP_HOST="10.0.0.7:8000").status_code == 400
