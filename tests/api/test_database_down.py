"""PostgreSQL down: every API and webhook answer is a JSON 503 with Retry-After, then the API
answers normally again when the database is back.

A real outage: a PostgreSQL of the test's own (ThrowawayPostgres, on a free loopback port, the
shared server is never touched), migrated, served by gunicorn as in production with the request
log on (it reads request.user after the view), stopped with `pg_ctl stop -m immediate` while
gunicorn holds a connection to it, then started again.
"""

import json
import time
import uuid

import pytest

from fulfillment.api.webhooks import signature_make
from tests.api.conftest import ORDER_BODY, WEBHOOK_SECRET
from tests.cluster.conftest import cluster_environment, manage
from tests.external_processes import WebServer, running_postgres

pytestmark = pytest.mark.cluster
DATABASE = "fulfillment_outage"
SETUP = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
from fulfillment.api.clients import api_client_create
from tests.factories import make_catalogue
make_catalogue()
token, _ = api_client_create(name="shop")
person = get_user_model().objects.create_user("browser", password="pw-123456789")
session = SessionStore()
session[SESSION_KEY] = str(person.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = person.get_session_auth_hash()
session.create()
print(json.dumps({"token": token, "session": session.session_key}))
"""


@pytest.fixture
def postgres():
    with running_postgres(DATABASE) as server:
        yield server


@pytest.fixture
def served(postgres, tmp_path):
    """gunicorn on the throwaway database, with a client token, a signed-in person and stock."""
    env = cluster_environment(
        DATABASE_URL=postgres.url(DATABASE),
        PGAPPNAME="fulfillment-database-down-test",
        PAYMENT_WEBHOOK_SECRET=WEBHOOK_SECRET,
        LOG_REQUESTS="1",
        METRICS_ALLOWED_IPS="127.0.0.1",
    )
    manage("migrate", "--no-input", env=env)
    credentials = json.loads(manage("shell", "-c", SETUP, env=env).strip().splitlines()[-1])
    server = WebServer(env, tmp_path / "gunicorn.log")
    server.start()
    try:
        yield server, credentials
    finally:
        server.stop()
        print(f"----- gunicorn log -----\n{server.log()}")


def _requests(credentials: dict) -> dict[str, tuple]:
    """Each kind of API request: (method, path, body, headers)."""
    token = {"Authorization": f"Token {credentials['token']}", "Content-Type": "application/json"}
    event = {
        "id": "evt_outage",
        "type": "charge.succeeded",
        "created": int(time.time()),
        "data": {"object": {"id": "ch_1", "reference": str(uuid.uuid4())}},
    }
    raw = json.dumps(event).encode()
    signature = signature_make(body=raw, secret=WEBHOOK_SECRET, timestamp=int(time.time()))
    return {
        "list by token": ("GET", "/api/orders/", None, token),
        "place by token": (
            "POST",
            "/api/orders/",
            json.dumps(ORDER_BODY).encode(),
            {**token, "Idempotency-Key": "placed-during-the-outage"},
        ),
        "one order by token": ("GET", f"/api/orders/{uuid.uuid4()}/", None, token),
        "cancel by token": ("POST", f"/api/orders/{uuid.uuid4()}/cancel/", b"{}", token),
        "list by session": ("GET", "/api/orders/", None, {"Cookie": f"sessionid={credentials['session']}"}),
        "webhook": (
            "POST",
            "/api/webhooks/payments/",
            raw,
            {"Content-Type": "application/json", "X-Signature": signature},
        ),
    }


def test_with_the_database_down_every_api_answer_is_a_json_503_then_normal_again(postgres, served):
    server, credentials = served
    requests = _requests(credentials)
    assert server.request("GET", "/api/orders/", **requests["list by token"][3])[0] == 200

    postgres.stop("immediate")
    answers = {}
    for attempt in (1, 2):  # first on the connection gunicorn held, then on a refused new one
        for name, (method, path, body, headers) in requests.items():
            started = time.monotonic()
            status, response_headers, text = server.request(method, path, body, **headers)
            answers[f"{name} #{attempt}"] = (status, response_headers, text, time.monotonic() - started)
    anonymous = server.request("GET", "/api/orders/")
    figures = server.request("GET", "/metrics")

    for name, (status, headers, text, seconds) in answers.items():
        assert status == 503, f"{name}: {status} {text[:200]}"
        assert headers["Content-Type"] == "application/json", name
        assert json.loads(text) == {
            "code": "unavailable",
            "detail": "The service cannot reach its database right now; retry after Retry-After seconds.",
        }, name
        assert headers["Retry-After"] == "5", name
        assert seconds < 6, f"{name} took {seconds:.1f} s"
    assert anonymous[0] == 401 and json.loads(anonymous[2])["code"] == "not_authenticated", (
        "no credentials needs no database: still the honest answer"
    )
    status, headers, _ = figures
    assert (status, headers["Content-Type"], headers["Retry-After"]) == (503, "application/json", "5")
    assert "<html" not in server.log().lower()

    postgres.start()
    method, path, body, headers = requests["place by token"]
    placed = server.request(method, path, body, **headers)
    assert placed[0] == 201, placed
    assert "Idempotent-Replayed" not in placed[1], "the attempts during the outage left nothing behind"
    again = server.request(method, path, body, **headers)
    assert (again[0], again[1].get("Idempotent-Replayed")) == (201, "true")
    listed = server.request("GET", "/api/orders/", **requests["list by session"][3])
    assert listed[0] == 200
    by_token = server.request("GET", "/api/orders/", **requests["list by token"][3])
    assert by_token[0] == 200 and json.loads(by_token[2])["count"] == 1
