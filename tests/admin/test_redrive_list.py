"""The list of every redrive: its rows and figures newest first, its filters and search, the
links to and from the Incidents pages, and who may see it."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from processes import clock
from processes.flow import operators
from processes.journal import Actor
from processes.models.flow import Redrive
from processes.models.journal import ActorType
from tests.admin.conftest import make_user
from tests.circuit_scenarios import LABEL, attention_at_confirmation
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB
LIST = reverse("admin:processes_redrive_changelist")
STEP = reverse("admin:processes_circuit_step", args=[LABEL, "send_confirmation"])
INCIDENTS = reverse("admin:processes_circuit_changelist")


@pytest.fixture
def redrives(catalogue):
    """Olga's redrive of two orders, finished; an hour later Sam's of one more, still running."""
    start = clock.now().replace(microsecond=0) - timedelta(days=1)
    attention_at_confirmation(2)
    with clock.frozen(start):
        first, _ = operators.start_redrive(
            LABEL, "send_confirmation", actor=Actor(ActorType.OPERATOR, "olga"), reason="mail relay is back"
        )
        operators.run_redrive(first.pk)
    attention_at_confirmation(1)
    with clock.frozen(start + timedelta(hours=1)):
        second, _ = operators.start_redrive(
            LABEL, "send_confirmation", actor=Actor(ActorType.OPERATOR, "sam"), reason="one more came in"
        )
    return {"first": first, "second": second, "start": start}


def row(page: str, number: int) -> str:
    """The list's `number`th row (from 1)."""
    rows = page.split("<tbody>", 1)[1].split("</tr>")
    return rows[number - 1]


def test_the_list_shows_every_redrive_newest_first_with_its_figures(
    ops_client, redrives, django_assert_max_num_queries
):
    with django_assert_max_num_queries(9):  # 9 with two rows: none per row (their steps come joined)
        response = ops_client.get(LIST)
    assert list(response.context["cl"].result_list) == [redrives["second"], redrives["first"]]
    page = response.content.decode()
    second, first = row(page, 1), row(page, 2)
    start = redrives["start"]
    link = f'<a href="{STEP}" title="Its step: condition, history, actions">{start:%Y-%m-%d %H:%M} UTC</a>'
    assert link in first
    assert '<td class="field-by">olga</td>' in first and "mail relay is back" in first
    assert "send_confirmation<br><small>Orders</small>" in first  # the workflow by its rows' name
    assert '<td class="field-state">Finished</td>' in first
    assert '<td class="field-done_of_total">2 / 2</td>' in first
    assert f'<td class="field-finished">{start:%Y-%m-%d %H:%M} UTC</td>' in first
    assert '<td class="field-by">sam</td>' in second and '<td class="field-state">Running</td>' in second
    assert (
        '<td class="field-done_of_total">0 / 1</td>' in second
        and '<td class="field-finished">–</td>' in second
    )


@pytest.mark.parametrize(
    ("query", "names"),
    [
        ("state=running", ["second"]),
        ("state=finished", ["first"]),
        ("circuit__step=send_confirmation", ["second", "first"]),
        ("circuit__step=create_label", []),
        (f"workflow={LABEL}", ["second", "first"]),
        ("workflow=fulfillment.return", []),
        ("q=relay", ["first"]),
        ("q=sam", ["second"]),
    ],
)
def test_filters_by_state_and_step_and_search_by_reason_or_actor(ops_client, redrives, query, names):
    listed = list(ops_client.get(f"{LIST}?{query}").context["cl"].result_list)
    assert listed == [redrives[name] for name in names]


def test_the_workflow_filter_names_each_workflow_by_its_rows(ops_client, redrives):
    page = ops_client.get(LIST).content.decode()
    assert "By workflow" in page and f'href="?workflow={LABEL}">Orders</a>' in page


def test_the_incidents_pages_link_to_it(support_client, redrives):
    assert f'<a href="{LIST}">All redrives</a>' in support_client.get(INCIDENTS).content.decode()
    step = support_client.get(STEP).content.decode()
    assert f'href="{LIST}?circuit__step=send_confirmation"' in step
    assert support_client.get(LIST).status_code == 200


def test_nobody_adds_changes_or_deletes_a_redrive(ops_client, redrives):
    first = redrives["first"]
    assert ops_client.get(reverse("admin:processes_redrive_add")).status_code == 403
    change = reverse("admin:processes_redrive_change", args=[first.pk])
    assert ops_client.get(change)["Location"] == STEP  # a row's page is its step's
    ops_client.post(change, {"reason": "edited"})
    delete = reverse("admin:processes_redrive_delete", args=[first.pk])
    assert ops_client.post(delete, {"post": "yes"}).status_code == 403
    assert Redrive.objects.get(pk=first.pk).reason == "mail relay is back"


def test_without_the_view_permission_no_list_and_no_link(client, redrives):
    client.force_login(make_user("nobody"))
    assert client.get(LIST).status_code == 403
    user = make_user("vera")
    user.user_permissions.add(Permission.objects.get(codename="view_circuit"))
    client.force_login(user)
    assert "All redrives" not in client.get(INCIDENTS).content.decode()
    assert "All redrives" not in client.get(STEP).content.decode()
    assert client.get(LIST).status_code == 403
