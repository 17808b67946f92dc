"""Views that fail on purpose, mounted beside the real URLs for tests/api/test_server_errors.py."""

from django.db import InterfaceError, OperationalError
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.views import APIView


def django_view_fails(request):
    raise RuntimeError("a bug in a plain view")


def django_view_loses_the_database(request):
    raise InterfaceError("connection already closed")


class DrfViewFails(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise KeyError("a bug in an API view")


class DrfViewLosesTheDatabase(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


urlpatterns = [
    path("api/failing/django/", django_view_fails),
    path("api/failing/django-database/", django_view_loses_the_database),
    path("api/failing/drf/", DrfViewFails.as_view()),
    path("api/failing/drf-database/", DrfViewLosesTheDatabase.as_view()),
    path("failing/django/", django_view_fails),
    path("", include("fulfillment.urls")),
]


class DatabaseGoneInResponse:
    """A middleware whose response half reads the database, as the request log reads request.user."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        self.get_response(request)
        raise OperationalError("server closed the connection unexpectedly")
