"""A sign-in whose `next` is missing or points off the site lands on a page of the person's role
(never on Django's default /accounts/profile/, which this site does not have); a safe `next` is
still followed."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from fulfillment.warehouse.access import WORKER_GROUP

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
EVIL = "https://evil.example/"


def person(username: str, *, staff: bool = False, worker: bool = False) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=staff)
    if worker:
        user.groups.add(Group.objects.get_or_create(name=WORKER_GROUP)[0])
    return user


def sign_in(login_url: str, username: str, next_url: str | None) -> tuple[list[str], int]:
    """Sign in through the page's form and follow the redirects: (the URLs visited, final status)."""
    data = {"username": username, "password": PASSWORD}
    if next_url is not None:
        data["next"] = next_url
    query = f"?next={next_url}" if next_url is not None else ""
    response = Client().post(login_url + query, data, follow=True)
    return [url for url, _ in response.redirect_chain], response.status_code


@pytest.mark.parametrize("next_url", [EVIL, "//evil.example/", None])
def test_staff_signing_in_at_the_admin_land_on_its_index(next_url):
    person("olga", staff=True)
    visited, status = sign_in("/admin/login/", "olga", next_url)
    assert (visited[-1], status) == ("/admin/", 200), visited


@pytest.mark.parametrize("next_url", [EVIL, None])
def test_workers_signing_in_at_the_warehouse_land_on_their_tasks(next_url):
    person("alice", worker=True)
    visited, status = sign_in("/warehouse/login/", "alice", next_url)
    assert (visited[-1], status) == ("/warehouse/", 200), visited


def test_staff_signing_in_at_the_warehouse_land_on_the_admin():
    """An operator on the workers' page gets the console, not the workers' 403."""
    person("olga", staff=True)
    visited, status = sign_in("/warehouse/login/", "olga", EVIL)
    assert (visited[-1], status) == ("/admin/", 200), visited


@pytest.mark.parametrize(
    ("username", "staff", "worker", "landing"),
    [("olga", True, False, "/admin/"), ("alice", False, True, "/warehouse/"), ("sam", True, True, "/admin/")],
)
def test_the_browsable_apis_sign_in_lands_on_the_role_page(username, staff, worker, landing):
    person(username, staff=staff, worker=worker)
    visited, status = sign_in("/api/auth/login/", username, EVIL)
    assert visited == ["/", landing] and status == 200


def test_a_signed_in_person_without_a_role_is_told_at_the_admin():
    person("guest")
    client = Client()
    client.post("/api/auth/login/", {"username": "guest", "password": PASSWORD}, follow=False)
    response = client.get("/", follow=True)
    assert response.status_code == 200 and response.redirect_chain[-1][0].startswith("/admin/login/")
    assert "not authorized to access this page" in response.content.decode()


def test_a_safe_next_is_still_followed():
    person("olga", staff=True)
    visited, status = sign_in("/admin/login/", "olga", "/admin/password_change/")
    assert (visited, status) == (["/admin/password_change/"], 200)


def test_a_stranger_at_the_root_is_sent_to_the_admin():
    response = Client().get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_staff_sent_to_the_warehouse_sign_in_land_on_the_admin_told_why():
    """next=/warehouse/ (where a sign-in from a warehouse page starts) would only refuse an
    operator: they land on the console, with a sentence saying the warehouse is for workers."""
    person("olga", staff=True)
    client = Client()
    response = client.post(
        "/warehouse/login/?next=/warehouse/",
        {"username": "olga", "password": PASSWORD, "next": "/warehouse/"},
        follow=True,
    )
    assert [url for url, _ in response.redirect_chain] == ["/admin/"] and response.status_code == 200
    assert "The warehouse pages are for warehouse workers, and olga is not one" in response.content.decode()


def test_workers_still_follow_a_safe_next():
    person("alice", worker=True)
    visited, status = sign_in("/warehouse/login/", "alice", "/warehouse/tasks/1/")
    assert visited == ["/warehouse/tasks/1/"]
