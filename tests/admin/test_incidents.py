"""The Incidents page: one line per failing step with its figures, and the operators' pause,
resume and redrive, each behind a confirmation form with a reason and a permission of its own.
Bad input comes back as a form error with nothing changed, never as an error page."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from fulfillment.roles import CIRCUIT_ACTIONS
from processes import clock
from processes.flow import operators
from processes.journal import Actor
from processes.models.flow import Circuit, CircuitEvent, CircuitEventKind, CircuitState, Redrive
from processes.models.journal import ActorType
from tests.admin.conftest import make_user
from tests.circuit_scenarios import LABEL, attention_at_confirmation, open_label_circuit
from tests.conftest import ENGINE_DB
from tests.factories import place_order, run_due

pytestmark = ENGINE_DB
INCIDENTS = reverse("admin:processes_circuit_changelist")
REASON = "carrier maintenance, ticket 4711"
# Every step with a circuit, the returns' beside the orders': the Incidents page lists them all.
CIRCUIT_STEPS = {
    "fraud_check",
    "charge_payment",
    "create_label",
    "send_confirmation",
    "create_return_label",
    "refund_return",
    "send_return_confirmation",
}


def step_url(step: str) -> str:
    return reverse("admin:processes_circuit_step", args=[LABEL, step])


def action_url(step: str, action: str) -> str:
    return reverse("admin:processes_circuit_action", args=[LABEL, step, action])


def act(client, step: str, action: str, *, reason: str = REASON, **fields):
    """POST an action's confirmation form, as the page would."""
    return client.post(action_url(step, action), {"confirm": "yes", "reason": reason, **fields})


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def state_of(step: str) -> str:
    circuit = Circuit.objects.filter(process_type=LABEL, step=step).first()
    return circuit.state if circuit else CircuitState.CLOSED


def operator_by(step: str, actor: str = "olga"):
    return CircuitEvent.objects.filter(circuit__step=step, actor=actor)


def test_list_shows_an_open_circuit_with_its_figures(ops_client, catalogue):
    """The stopped label step is listed with its condition, the calls that failed in its window
    and for how many orders, its grouped errors, the orders waiting and the one alert, each
    figure the same wherever the page shows it; every step with a circuit is listed too."""
    open_label_circuit(then=3)

    response = ops_client.get(INCIDENTS)

    assert response.status_code == 200
    [row] = response.context["incidents"]
    incident, flow = row["incident"], row["flow"]
    assert incident.circuit.step == "create_label" and incident.circuit.state == CircuitState.OPEN
    assert flow.condition == "stopped" and flow.status.startswith("stopped: outage since")
    seen = flow.health
    # Ten orders (OPENED_BY) failed once each and opened it; the last of them and three more wait.
    assert (seen.failed_calls, seen.calls, seen.failing, seen.processes) == (10, 10, 10, 10)
    assert incident.held == 4 and incident.alerts == 1
    [error] = incident.errors
    assert error["count"] == 10 and error["error_class"].endswith("ServiceUnavailable")
    page = response.content.decode()
    line = page[
        page.index('id="incident-create_label"') : page.index(
            "</tr>", page.index('id="incident-create_label"')
        )
    ]
    assert "Stopped" in line and ">10/10 (100 %)<" in line and "10 of 10 orders" in line
    assert "10×" in line and "ServiceUnavailable" in line
    assert f"next probe {incident.circuit.probe_at:%H:%M:%S}" in line
    assert f"next probe at {incident.circuit.probe_at:%H:%M:%S}" in unescape(flow.status)
    assert {s["row"].step for s in response.context["steps"]} == CIRCUIT_STEPS
    assert 'id="step-fraud_check"' in page  # never opened, listed all the same


def test_step_page_shows_history_and_waiting_orders(ops_client, catalogue):
    open_label_circuit(then=1)

    response = ops_client.get(step_url("create_label"))

    assert response.status_code == 200
    page = response.content.decode()
    assert (
        "Opened" in page and "circuit_opened alert: email to operators@fulfillment.localhost queued" in page
    )
    assert len(response.context["held_processes"]) == 2
    assert {b["name"] for b in response.context["buttons"]} == {"pause", "resume", "redrive"}


def test_pause_with_a_reason_holds_the_step(ops_client, catalogue):
    """Paused by hand, the step holds every order that reaches it: no call, no attempt spent."""
    response = act(ops_client, "charge_payment", "pause", until="")

    assert response.status_code == 302 and response["Location"] == step_url("charge_payment")
    circuit = Circuit.objects.get(process_type=LABEL, step="charge_payment")
    assert circuit.state == CircuitState.PAUSED and circuit.paused_until is None
    assert circuit.paused_by == "olga" and circuit.reason == REASON
    assert (
        operator_by("charge_payment").filter(kind=CircuitEventKind.PAUSED, detail__contains=REASON).exists()
    )
    order = place_order()
    with clock.frozen(clock.now()):
        run_due(order)
    order.refresh_from_db()
    assert order.held_since is not None and order.attempts == 0 and order.state == "received"
    follow = ops_client.get(step_url("charge_payment"))
    assert "The charge_payment step is paused until resumed" in " ".join(messages_of(follow))
    assert "Paused by olga" in follow.content.decode()


def test_pause_with_an_end_time(ops_client, catalogue):
    until = (clock.now() + timedelta(hours=2)).replace(second=0, microsecond=0)

    response = act(ops_client, "create_label", "pause", until=until.strftime("%Y-%m-%dT%H:%M"))

    assert response.status_code == 302
    assert Circuit.objects.get(step="create_label").paused_until == until


@pytest.mark.parametrize("reason", ["", "   "], ids=["empty", "blank"])
def test_pause_without_a_reason_changes_nothing(ops_client, catalogue, reason):
    response = act(ops_client, "create_label", "pause", reason=reason, until="")

    assert response.status_code == 200
    assert response.context["form"].errors["reason"] == ["This field is required."]
    assert state_of("create_label") == CircuitState.CLOSED and not CircuitEvent.objects.exists()


@pytest.mark.parametrize(
    ("until", "error"),
    [
        ("2020-01-01T10:00", "The end of a pause must be in the future."),
        ("next tuesday", "Enter a valid date/time."),
    ],
    ids=["past", "not-a-time"],
)
def test_pause_with_a_bad_end_time_changes_nothing(ops_client, catalogue, until, error):
    response = act(ops_client, "create_label", "pause", until=until)

    assert response.status_code == 200
    assert error in unescape(response.content.decode())
    assert state_of("create_label") == CircuitState.CLOSED and not CircuitEvent.objects.exists()


def test_resume_closes_a_paused_step(ops_client, catalogue):
    operators.pause(LABEL, "create_label", actor=Actor(ActorType.OPERATOR, "olga"), reason="window")

    response = act(ops_client, "create_label", "resume", reason="carrier is back")

    assert response.status_code == 302
    assert state_of("create_label") == CircuitState.CLOSED
    assert operator_by("create_label").filter(
        kind=CircuitEventKind.RESUMED, detail__contains="carrier is back"
    )


def test_resume_closes_an_open_circuit(ops_client, catalogue):
    open_label_circuit(then=1)

    response = act(ops_client, "create_label", "resume", reason="carrier confirmed the fix")

    assert response.status_code == 302
    assert state_of("create_label") == CircuitState.CLOSED


def test_resume_of_a_closed_step_is_greyed_out_and_refused(ops_client, catalogue):
    page = ops_client.get(step_url("create_label"))
    [resume] = [b for b in page.context["buttons"] if b["name"] == "resume"]
    assert resume["refused"] == "the step is not paused or open"

    response = act(ops_client, "create_label", "resume")

    assert response.status_code == 200
    assert "there is nothing to resume" in response.content.decode()
    assert not CircuitEvent.objects.filter(kind=CircuitEventKind.RESUMED).exists()


def test_redrive_starts_once_and_a_second_click_says_it_runs(ops_client, catalogue):
    """The first click starts one background redrive; the second says how far it is."""
    flagged = attention_at_confirmation(2)

    first = act(ops_client, "send_confirmation", "redrive", reason="mail relay is back")
    second = act(ops_client, "send_confirmation", "redrive", reason="mail relay is back")

    assert first.status_code == second.status_code == 302
    redrive = Redrive.objects.get()
    assert (redrive.total, redrive.done, redrive.requested_by) == (2, 0, "olga")
    page = ops_client.get(step_url("send_confirmation"))
    said = messages_of(page)
    assert any("Redrive of 2 processes at send_confirmation started" in m for m in said), said
    assert "A redrive is already running: 0/2." in said
    assert page.context["redrive"]["running"] is True

    operators.run_redrive(redrive.pk)  # the background task
    progress = ops_client.get(reverse("admin:processes_circuit_progress", args=[LABEL, "send_confirmation"]))
    assert {"done": 2, "total": 2, "running": False}.items() <= progress.json().items()
    for order in flagged:
        order.refresh_from_db()
        assert not order.needs_attention


def test_redrive_with_nothing_to_retry_is_greyed_out(ops_client, catalogue):
    page = ops_client.get(step_url("create_label"))

    [redrive] = [b for b in page.context["buttons"] if b["name"] == "redrive"]
    assert redrive["refused"] == "no process of this step needs attention"
    assert 'class="incident-button-off"' in page.content.decode()


def test_a_user_without_the_permissions_sees_no_buttons_and_is_refused(support_client, catalogue):
    """Support sees the pages but no action; a crafted GET or POST answers 403, nothing changes."""
    operators.pause(LABEL, "create_label", actor=Actor(ActorType.OPERATOR, "olga"), reason="window")
    events = CircuitEvent.objects.count()

    page = support_client.get(step_url("create_label"))
    listing = support_client.get(INCIDENTS)

    assert page.status_code == listing.status_code == 200
    assert page.context["buttons"] == [] and 'id="incident-actions"' not in page.content.decode()
    assert "Pause…" not in listing.content.decode()
    for action in ("pause", "resume", "redrive"):
        assert support_client.get(action_url("create_label", action)).status_code == 403
        assert act(support_client, "create_label", action, until="").status_code == 403
    assert state_of("create_label") == CircuitState.PAUSED and CircuitEvent.objects.count() == events
    assert not Redrive.objects.exists()


def test_each_action_has_its_own_permission(client, catalogue):
    user = make_user("petra")
    user.user_permissions.add(
        Permission.objects.get(codename="view_circuit"), Permission.objects.get(codename="pause_circuit")
    )
    client.force_login(user)

    assert [b["name"] for b in client.get(step_url("create_label")).context["buttons"]] == ["pause"]
    assert act(client, "create_label", "pause", until="").status_code == 302
    assert act(client, "create_label", "resume").status_code == 403
    assert state_of("create_label") == CircuitState.PAUSED


def test_operators_hold_the_three_permissions(operator, support):
    for codename in CIRCUIT_ACTIONS:
        assert operator.has_perm(f"processes.{codename}")
        assert not support.has_perm(f"processes.{codename}")
    assert support.has_perm("processes.view_circuit")
    # For the demo: an operator takes a simulated service down and back from the admin.
    assert operator.has_perm("simulators.switch_outage") and not support.has_perm("simulators.switch_outage")


@pytest.mark.parametrize(
    "url",
    [
        reverse("admin:processes_circuit_step", args=[LABEL, "reserve_inventory"]),  # no circuit
        reverse("admin:processes_circuit_step", args=["no.such", "create_label"]),
        reverse("admin:processes_circuit_action", args=[LABEL, "pick", "pause"]),
        reverse("admin:processes_circuit_action", args=[LABEL, "create_label", "explode"]),
        reverse("admin:processes_circuit_progress", args=[LABEL, "nope"]),
    ],
    ids=["step-without-circuit", "unknown-workflow", "pause-human-step", "unknown-action", "progress"],
)
def test_unknown_steps_and_actions_are_not_found(ops_client, catalogue, url):
    assert ops_client.get(url).status_code == 404
    assert ops_client.post(url, {"confirm": "yes", "reason": REASON}).status_code == 404
    assert not Circuit.objects.exists()


def test_a_circuit_row_opens_its_step_page(ops_client, catalogue):
    circuit = open_label_circuit(then=1)

    response = ops_client.get(reverse("admin:processes_circuit_change", args=[circuit.pk]))

    assert response.status_code == 302 and response["Location"] == step_url("create_label")


def test_dashboard_links_to_the_open_incidents(ops_client, catalogue):
    operators.pause(LABEL, "create_label", actor=Actor(ActorType.OPERATOR, "olga"), reason="window")

    page = ops_client.get(reverse("admin:fulfillment_order_dashboard")).content.decode()

    card = re.search(
        r'<a class="([^"]*)" href="([^"]+)" id="card-incidents">\s*<span[^>]*>(\d+)</span>', page
    )
    assert card, "no incidents card on the dashboard"
    assert "console-card-alert" in card[1] and card[2] == INCIDENTS and card[3] == "1"
