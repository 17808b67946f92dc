"""Under /api/ every failure on our side is the documented JSON: 503 + Retry-After for a database
that does not answer, 500 for anything else, never Django's HTML page.

The failing views and middleware are the test's own (tests/api/failing_urls.py); the real
database outage, against a PostgreSQL of the test's own, is tests/api/test_database_down.py.
"""

import pytest
from rest_framework.test import APIClient

from fulfillment.api.authentication import NO_CREDENTIALS
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db
UNAVAILABLE = {
    "code": "unavailable",
    "detail": "The service cannot reach its database right now; retry after Retry-After seconds.",
}
SERVER_ERROR = {"code": "server_error", "detail": "Something went wrong on our side; it has been logged."}


@pytest.fixture
def failing(settings):
    settings.ROOT_URLCONF = "tests.api.failing_urls"
    return APIClient(raise_request_exception=False)


@pytest.mark.parametrize("path", ["/api/failing/django/", "/api/failing/drf/"])
def test_an_unhandled_exception_under_api_is_a_json_500(failing, path):
    response = failing.get(path)
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == SERVER_ERROR
    assert "Retry-After" not in response


@pytest.mark.parametrize("path", ["/api/failing/django-database/", "/api/failing/drf-database/"])
def test_a_database_error_under_api_is_a_json_503_with_retry_after(failing, path):
    response = failing.get(path)
    assert response.status_code == 503
    assert response.json() == UNAVAILABLE
    assert response["Retry-After"] == "5"
    assert response["X-Request-ID"], "the request id still goes back to the client"


def test_a_middleware_that_loses_the_database_after_the_view_is_a_json_503(settings, failing):
    """The request log reads request.user (a session from the database) after the view ran."""
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.api.failing_urls.DatabaseGoneInResponse"]
    shop = client_for("shop")
    shop.raise_request_exception = False
    for response in (shop.get("/api/orders/"), failing.post("/api/webhooks/payments/", {}, format="json")):
        assert response.status_code == 503
        assert response.json() == UNAVAILABLE and response["Retry-After"] == "5"


def test_outside_api_the_error_page_is_left_to_django(failing):
    response = failing.get("/failing/django/")
    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


def test_json_errors_of_the_api_itself_pass_unchanged(failing):
    response = failing.get("/api/orders/")
    assert response.status_code == 401
    assert response.json() == {
        "code": "not_authenticated",
        "detail": NO_CREDENTIALS,
    }
