"""Only signed-in warehouse workers get in, and only to their own warehouses' tasks."""

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from fulfillment.models import PickTask, Warehouse
from fulfillment.warehouse.access import WORKER_GROUP
from tests.conftest import ENGINE_DB
from tests.fulfillment.picking.conftest import PASSWORD, fresh
from tests.fulfillment.warehouse.conftest import client_for, line_answers

pytestmark = ENGINE_DB

ACTIONS = ["claim", "confirm", "release", "problem"]


def urls(task: PickTask) -> dict[str, str]:
    names = ["task", "label", *ACTIONS]
    return {name: reverse(f"warehouse:{name}", args=[task.pk]) for name in names}


def test_anonymous_is_sent_to_sign_in(task):
    """Every page sends a stranger to the warehouse sign-in page, and changes nothing."""
    client = Client()
    for url in [reverse("warehouse:tasks"), *urls(task).values()]:
        response = client.post(url) if url.endswith(("claim/", "confirm/", "release/")) else client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("warehouse:login") + "?next=")
    assert fresh(task).status == PickTask.Status.OPEN


def test_user_outside_the_worker_group_is_refused(task, make_worker):
    """A signed-in user who is not a warehouse worker (an operator, say) gets 403 everywhere."""
    operator = make_worker("olga", group=False)
    operator.is_staff = True
    operator.save()
    client = client_for(operator)
    assert client.get(reverse("warehouse:tasks")).status_code == 403
    for name, url in urls(task).items():
        response = client.post(url) if name in ACTIONS else client.get(url)
        assert response.status_code == 403, name
    assert fresh(task).status == PickTask.Status.OPEN


def test_inactive_worker_is_refused(task, alice):
    alice.is_active = False
    alice.save()
    client = Client()
    client.force_login(alice)  # a session that outlived the deactivation
    assert client.get(reverse("warehouse:tasks")).status_code in (302, 403)


def test_other_warehouses_tasks_answer_404(task, make_worker):
    """A worker assigned elsewhere sees nothing of this task: every page and action is a 404."""
    north = Warehouse.objects.create(code="NORTH", name="North")
    nina = make_worker("nina", warehouse=north)
    client = client_for(nina)
    for name, url in urls(task).items():
        response = client.post(url, line_answers(task)) if name in ACTIONS else client.get(url)
        assert response.status_code == 404, name
    assert client.get(reverse("warehouse:problem", args=[task.pk])).status_code == 404
    assert str(task.order_id)[:8].upper() not in client.get(reverse("warehouse:tasks")).content.decode()
    assert fresh(task).status == PickTask.Status.OPEN


def test_actions_need_post(task, alice):
    client = client_for(alice)
    for name in ["claim", "confirm", "release"]:
        assert client.get(reverse(f"warehouse:{name}", args=[task.pk])).status_code == 405
    assert client.post(reverse("warehouse:task", args=[task.pk])).status_code == 405
    assert fresh(task).status == PickTask.Status.OPEN


def test_forms_need_the_csrf_token(task, alice):
    """A forged POST without the CSRF token is refused; the page's own form goes through."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    claim = reverse("warehouse:claim", args=[task.pk])
    assert client.post(claim).status_code == 403
    assert fresh(task).status == PickTask.Status.OPEN

    page = client.get(reverse("warehouse:task", args=[task.pk]))
    token = page.context["csrf_token"]
    assert f'name="csrfmiddlewaretoken" value="{token}"' in page.content.decode()
    assert client.post(claim, {"csrfmiddlewaretoken": str(token)}).status_code == 302
    assert fresh(task).assignee == alice


def test_sign_in_and_out(task, alice):
    """Workers sign in with Django auth on the warehouse page and land on their task list."""
    client = Client(enforce_csrf_checks=False)
    page = client.get(reverse("warehouse:login"))
    assert page.status_code == 200 and b'name="password"' in page.content

    wrong = client.post(reverse("warehouse:login"), {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200 and b"do not match" in wrong.content

    right = client.post(reverse("warehouse:login"), {"username": "alice", "password": PASSWORD})
    assert right.status_code == 302 and right["Location"] == reverse("warehouse:tasks")
    assert client.get(reverse("warehouse:tasks")).status_code == 200

    out = client.post(reverse("warehouse:logout"))
    assert out.status_code == 302 and out["Location"] == reverse("warehouse:login")
    assert client.get(reverse("warehouse:tasks")).status_code == 302


def test_sign_in_follows_next(task, alice):
    client = Client()
    target = reverse("warehouse:task", args=[task.pk])
    response = client.post(
        reverse("warehouse:login") + f"?next={target}",
        {"username": "alice", "password": PASSWORD, "next": target},
    )
    assert response["Location"] == target


def test_workers_change_nothing_but_pick_tasks(alice):
    """The worker group holds no permission, and workers are not staff: the admin stays shut."""
    assert not Group.objects.get(name=WORKER_GROUP).permissions.exists()
    assert not alice.is_staff and not alice.get_all_permissions()
    response = client_for(alice).get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_demo_worker_is_assigned_to_the_demo_warehouse():
    """`load_demo_data` gives the demo worker the MAIN warehouse and bins for every product."""
    from fulfillment.models import Stock
    from fulfillment.proving.demo import WORKERS, demo_data_load, demo_user_reset

    demo_data_load()
    demo_user_reset(username="worker", group_name=WORKERS, staff=False)
    worker = User.objects.get(username="worker")
    assert list(worker.warehouse_assignments.values_list("warehouse__code", flat=True)) == ["MAIN"]
    assert worker.groups.filter(name=WORKER_GROUP).exists()
    assert not Stock.objects.filter(bin_location="").exists()
    demo_user_reset(username="worker", group_name=WORKERS, staff=False)  # again: no duplicate
    assert worker.warehouse_assignments.count() == 1


@pytest.mark.parametrize("name", ["tasks", "login"])
def test_pages_load_nothing_from_elsewhere(task, alice, name):
    """No CDN: no script, stylesheet or image comes from another host."""
    client = client_for(alice) if name == "tasks" else Client()
    html = client.get(reverse(f"warehouse:{name}")).content.decode()
    assert "<script" not in html and 'src="http' not in html and 'href="http' not in html
