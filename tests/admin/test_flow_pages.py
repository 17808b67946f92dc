"""What the Incidents page and an order's page say about flow control: a slowed step with the
rate its calls go at, a stopped one with its next probe, a paused carrier account; each held or
paced order says what it waits for, in the same words and figures as its step's page."""

from datetime import timedelta
from html import unescape
from uuid import uuid4

from django.urls import reverse

from processes import clock
from processes.flow import operators, pacing
from processes.journal import Actor
from processes.models.flow import Circuit, CircuitState
from processes.models.journal import ActorType, StepAttempt
from processes.models.process import Hold
from tests.circuit_scenarios import LABEL, open_label_circuit
from tests.conftest import ENGINE_DB
from tests.factories import place_order, run_due

pytestmark = ENGINE_DB
INCIDENTS = reverse("admin:processes_circuit_changelist")


def step_url(step: str, key: str = "") -> str:
    url = reverse("admin:processes_circuit_step", args=[LABEL, step])
    return f"{url}?key={key}" if key else url


def order_url(order) -> str:
    return reverse("admin:fulfillment_order_change", args=[order.pk])


def calls(step: str, *, failed: int, answered: int, orders: int, key: str = "") -> None:
    """The step's latest finished calls, as the engine journals them: `failed` service failures
    spread over `orders` orders, then `answered` calls of others."""
    now = clock.now()
    failing = [uuid4() for _ in range(orders)]
    for n in range(failed + answered):
        StepAttempt.objects.create(
            process_type=LABEL,
            process_id=failing[n % orders] if n < failed else uuid4(),
            step=step,
            attempt=1,
            idempotency_key=f"k{n}",
            started_at=now - timedelta(seconds=30 - n),
            finished_at=now - timedelta(seconds=30 - n),
            outcome="failed" if n < failed else "succeeded",
            service_failed=n < failed,
            flow_key=key,
        )


def test_a_slowed_step_says_how_much_failed_and_the_rate_its_calls_go_at(ops_client, catalogue):
    calls("create_label", failed=12, answered=8, orders=6)

    listing = ops_client.get(INCIDENTS)
    page = ops_client.get(step_url("create_label"))

    [row] = listing.context["incidents"]
    flow = row["flow"]
    assert flow.condition == "slowed" and flow.admitted_percent == 80
    status = (
        "slowed: 12 of its last 20 calls failed (60 %) in the last 60s, for 6 orders; "
        "calls at 80 % of the normal rate"
    )
    assert flow.status == status
    line = listing.content.decode().split('id="incident-create_label"')[1].split("</tr>")[0]
    assert "Slowed 80 %" in line and "12/20 (60 %)" in line and "6 of 14 orders" in line
    body = unescape(page.content.decode())
    assert status.capitalize() in body
    assert "12 of the last 20 (60 %), for 6 of 14 orders" in body and "80 % of the normal rate" in body


def test_a_degraded_step_that_still_answers_most_calls_goes_at_the_full_rate(ops_client, catalogue):
    """A third of the calls fail: the page says so, and that calls still go at the full rate."""
    calls("create_label", failed=6, answered=14, orders=5)

    [row] = ops_client.get(INCIDENTS).context["incidents"]

    flow = row["flow"]
    assert (flow.condition, flow.admitted_percent) == ("degraded", 100)
    assert flow.status == (
        "degraded: 6 of its last 20 calls failed (30 %) in the last 60s, for 5 orders; "
        "calls at the full rate while it answers more than 50 %"
    )


class UnluckyDraws:
    """Pacing's random source, fixed so that a slowed step always holds the call back."""

    def random(self) -> float:
        return 0.99

    def uniform(self, low: float, high: float) -> float:
        return (low + high) / 2


def test_a_paced_order_says_it_waits_its_turn_at_the_slowed_step(ops_client, catalogue, monkeypatch):
    calls("create_label", failed=14, answered=6, orders=6)  # 70 % failed: calls at 60 %
    monkeypatch.setattr(pacing, "rng", UnluckyDraws())
    order = place_order()
    with clock.frozen(clock.now()):
        run_due(order)  # charge and reserve, then the label step holds it back
        order.refresh_from_db()
        assert (order.step, order.held_by, order.attempts) == ("create_label", Hold.PACE, 0)
        assert order.next_run_at == clock.now() + timedelta(seconds=1 / 0.6)

        page = unescape(ops_client.get(order_url(order)).content.decode())

    assert "Waiting its turn at create_label since" in page
    assert "the carrier is slowed: calls go at a reduced rate; its turn comes at" in page
    assert "No attempts are spent." in page
    assert "The step is slowed: 14 of its last 20 calls failed (70 %)" in page
    assert "calls at 60 % of the normal rate" in page and step_url("create_label") in page


def test_an_order_held_by_a_stopped_step_says_so_with_its_next_probe(ops_client, catalogue):
    circuit = open_label_circuit(then=2)
    held = circuit.events.model.objects.none()  # noqa: F841 (readability: the circuit holds orders)
    order = (
        type(place_order())
        .objects.filter(held_by=Hold.CIRCUIT, step="create_label")
        .order_by("held_since")
        .first()
    )

    page = unescape(ops_client.get(order_url(order)).content.decode())

    since, probe = f"{circuit.incident_since:%H:%M:%S}", f"{circuit.probe_at:%H:%M:%S}"
    assert f"Held by the circuit of the carrier (create_label): open since {since} UTC;" in page
    assert f"the next probe is at {probe} UTC. No attempts are spent." in page
    assert f"The step is stopped: outage since {since}, next probe at {probe} UTC" in page


def test_a_paused_carrier_account_has_its_own_line_page_and_resume(ops_client, catalogue):
    actor = Actor(ActorType.OPERATOR, "olga")
    operators.pause(LABEL, "create_label", "ACME-NORTH", actor=actor, reason="account suspended")

    listing = ops_client.get(INCIDENTS)
    [row] = listing.context["incidents"]
    assert row["flow"].where == "create_label · ACME-NORTH" and row["flow"].condition == "paused"
    assert 'id="incident-create_label-acme-north"' in listing.content.decode()
    page = ops_client.get(step_url("create_label", "ACME-NORTH"))
    assert "Paused by olga until resumed: account suspended" in unescape(page.content.decode())
    [resume] = [b for b in page.context["buttons"] if b["name"] == "resume"]
    assert resume["url"].endswith("/resume/?key=ACME-NORTH") and resume["refused"] == ""

    done = ops_client.post(resume["url"], {"confirm": "yes", "reason": "account back"})

    assert done.status_code == 302 and done["Location"] == step_url("create_label", "ACME-NORTH")
    assert Circuit.objects.get(key="ACME-NORTH").state == CircuitState.CLOSED
    assert not Circuit.objects.filter(key="").exists()  # the other accounts were never touched


def test_an_order_over_the_carriers_limit_says_it_waits_its_turn_under_it(ops_client, catalogue, settings):
    settings.CARRIER_RATE_LIMIT = 1
    first, second = place_order(), place_order(email="two@example.com")
    with clock.frozen(clock.now()):
        run_due(first)  # takes the one call of this second
        run_due(second)  # waits for the next
        second.refresh_from_db()
        assert (second.step, second.held_by, second.attempts) == ("create_label", Hold.LIMIT, 0)

        page = unescape(ops_client.get(order_url(second)).content.decode())
        step = unescape(ops_client.get(step_url("create_label")).content.decode())

    assert "Waiting its turn at create_label since" in page
    assert "the carrier's published limit (carrier: 1 call per second) is reached" in page
    assert "the service allows carrier: 1 call per second" in page
    assert "1 under the limit" in step and "carrier: 1 call per second" in step


def test_a_key_no_step_could_have_is_not_found_and_changes_nothing(ops_client, catalogue):
    step = reverse("admin:processes_circuit_step", args=[LABEL, "create_label"])
    progress = reverse("admin:processes_circuit_progress", args=[LABEL, "create_label"])
    pause = reverse("admin:processes_circuit_action", args=[LABEL, "create_label", "pause"])
    for key in ["%00", "a%0Ab", "%E2%80%AEevil", "x" * 101]:
        assert ops_client.get(f"{step}?key={key}").status_code == 404
        assert ops_client.get(f"{progress}?key={key}").status_code == 404
        assert ops_client.post(f"{pause}?key={key}", {"confirm": "yes", "reason": "r"}).status_code == 404
    odd = ops_client.get(f"{step}?key=odd%27%22%3Cb%3E")  # printable: an unknown account, shown escaped
    assert odd.status_code == 200 and "odd&#x27;&quot;&lt;b&gt;" in odd.content.decode()
    assert not Circuit.objects.exists()


def test_an_order_waiting_its_turn_goes_without_its_wait_once_the_service_recovers(catalogue, monkeypatch):
    calls("create_label", failed=14, answered=6, orders=6)
    monkeypatch.setattr(pacing, "rng", UnluckyDraws())
    order = place_order()
    with clock.frozen(clock.now()):
        run_due(order)
        order.refresh_from_db()
        assert order.held_by == Hold.PACE
        StepAttempt.objects.filter(service_failed=True).delete()  # the carrier answers again
        clock.advance(order.next_run_at - clock.now() + timedelta(seconds=2))
        run_due(order)
    order.refresh_from_db()
    assert order.step == "pick" and (order.held_by, order.held_since) == ("", None)
