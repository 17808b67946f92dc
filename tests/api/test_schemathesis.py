"""Property-based run of the whole OpenAPI schema: no 5xx and no response that breaks the schema.

schemathesis generates requests for every operation of /api/schema/, valid and invalid, and
sends them through the WSGI application (in-process, on the test database) as a client with a
token. Two hooks steer valid requests onto real data, so that the success paths are checked
too: an order id in a path becomes one of the client's orders, and the SKUs of a short order
become catalogue SKUs. Bounded by Hypothesis' max_examples per operation.
"""

import copy
import uuid

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings

from fulfillment.api.clients import api_client_create
from fulfillment.models import Order
from fulfillment.ordering import LineRequest, order_place
from fulfillment.wsgi import application
from processes.journal import Actor
from tests.api.conftest import ORDER_BODY


def strict_headers(app):
    """Refuse response headers a real WSGI server refuses (wsgiref: names and values of type
    str exactly); the in-process client would let a str subclass through."""

    def checked(environ, start_response):
        def start(status, headers, exc_info=None):
            for name, value in headers:
                assert type(name) is str and type(value) is str, f"header {name}: {type(value).__name__}"
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return checked


# Loaded once at collection: the schema view reads no database.
schema = schemathesis.openapi.from_wsgi("/api/schema/", strict_headers(application))
CATALOGUE_SKUS = ("MUG-001", "TEE-042")
KNOWN = {}


@pytest.fixture
def token(db, catalogue):
    """A client with one order; the test's transaction is kept across requests (the WSGI
    handler would close the connection after each, which Django's test client avoids)."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    key, _ = api_client_create(name="schemathesis")
    KNOWN["order_id"] = str(_an_order_of("schemathesis").pk)
    yield key
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@schema.hook
def map_path_parameters(context, path_parameters):
    # Explicit examples (the PATCH's address has one) are drawn at collection, before the
    # fixture made the order: those keep their id and are answered 404.
    if isinstance(path_parameters, dict) and _is_uuid(path_parameters.get("id")) and "order_id" in KNOWN:
        return {**path_parameters, "id": KNOWN["order_id"]}
    return path_parameters


@schema.hook
def map_body(context, body):
    lines = body.get("lines") if isinstance(body, dict) else None
    if isinstance(lines, list) and len(lines) <= len(CATALOGUE_SKUS):
        for line, sku in zip(lines, CATALOGUE_SKUS, strict=False):
            if isinstance(line, dict) and isinstance(line.get("sku"), str) and 0 < len(line["sku"]) <= 64:
                line["sku"] = sku
    return body


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_conforms(case, token):
    """Every check but positive_data_acceptance: a schema-valid order can still be refused for
    reasons no schema says (an unknown SKU, an email Django finds invalid, a blank name)."""
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )


def _an_order_of(username: str) -> Order:
    from django.contrib.auth import get_user_model

    body = copy.deepcopy(ORDER_BODY)
    return order_place(
        email=body["email"],
        shipping_address=body["shipping_address"],
        lines=[LineRequest(line["sku"], line["quantity"]) for line in body["lines"]],
        payment_token=body["payment_token"],
        actor=Actor("client", username),
        owner=get_user_model().objects.get(username=username),
    )


def _is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
