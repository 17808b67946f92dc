"""Serve /healthz, /readyz and /metrics before the rest of the middleware stack.

Load balancers, orchestrators and Prometheus reach each web server directly: over plain HTTP,
with an internal address as Host, every few seconds. Placed first, these paths skip host
validation, the HTTPS redirect, sessions and the per-request log line; /metrics guards itself
with its token or allow-list.
"""

from django.http import HttpRequest, HttpResponse

from fulfillment.ops.health import liveness, readiness
from fulfillment.ops.metrics import metrics

ENDPOINTS = {"/healthz": liveness, "/readyz": readiness, "/metrics": metrics}


class OpsEndpointsMiddleware:
    """Answers the three operations paths itself; every other request goes on down the stack."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        endpoint = ENDPOINTS.get(request.path)
        if endpoint is not None and request.method in ("GET", "HEAD"):
            return endpoint(request)
        return self.get_response(request)
