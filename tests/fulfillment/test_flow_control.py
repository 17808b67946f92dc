"""Flow control against the simulators, in-process under a controlled clock: a sick order is
never a sick service, a degraded service slows its step instead of stopping it, and a probe
that fails for its own order's reason does not keep an outage going."""

import random
from collections import Counter
from datetime import timedelta

from fulfillment.models import Order, OrderState, Stock, Warehouse
from fulfillment.ordering import LineRequest, order_place
from fulfillment.simulators import faults
from fulfillment.simulators.carrier import UNDELIVERABLE_POSTCODE, labels_bulk
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import LabelRecord
from fulfillment.simulators.outages import outage_set
from fulfillment.simulators.payment import ledger
from fulfillment.steps import CreateLabel
from processes import clock
from processes.journal import Actor
from processes.models.flow import Circuit, CircuitEvent, CircuitEventKind, CircuitState
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from tests.circuit_scenarios import (
    advance_to_next_due,
    open_circuit,
    run_all_due,
    run_until_at_rest,
    runner_run,
)
from tests.conftest import ENGINE_DB
from tests.factories import ADDRESS, drive, make_catalogue, place_order

pytestmark = ENGINE_DB


class AlwaysDraws:
    """The simulators' random source, fixed: every chance below `value` fires."""

    def __init__(self, value: float):
        self.value = value

    def random(self) -> float:
        return self.value


def opened(step: str) -> int:
    return CircuitEvent.objects.filter(circuit__step=step, kind=CircuitEventKind.OPENED).count()


def test_flaky_cards_never_count_against_the_payment_service(catalogue, monkeypatch):
    """Twelve orders whose card's issuer does not answer half the time: the gateway answered
    every call, so no failure is the service's, and the payment step is neither slowed nor
    stopped while the cards' own retries run their course."""
    monkeypatch.setattr(faults, "_rng", random.Random(3))
    with clock.frozen():
        for n in range(12):
            place_order(token="tok_flaky", email=f"flaky{n}@example.com")
        run_until_at_rest(limit=timedelta(minutes=30))

    failed = StepAttempt.objects.filter(step="charge_payment", outcome="failed")
    assert failed.count() >= 6 and not failed.filter(service_failed=True).exists()
    assert set(failed.values_list("error_class", flat=True)) == {"fulfillment.gateways.IssuerUnavailable"}
    assert opened("charge_payment") == 0
    assert not ProcessEvent.objects.filter(reason__contains="charge_payment slowed").exists()
    assert Order.objects.filter(state=OrderState.COMPLETED).count() >= 10


def test_an_address_the_carrier_rejects_is_the_orders_problem(catalogue):
    """The carrier refuses the label: the order waits for a person to correct its address
    (fulfillment.address_change) with its charge and stock kept, nothing refunded, no label
    made, and the refusal is not a failure of the carrier's."""
    with clock.frozen():
        order = order_place(
            email="far@example.com",
            shipping_address={**ADDRESS, "postal_code": UNDELIVERABLE_POSTCODE},
            lines=[LineRequest("MUG-001", 1)],
            payment_token="tok_ok",
            actor=Actor("client", "test"),
        )
        order = drive(order)
    assert order.state == OrderState.INVENTORY_RESERVED and order.needs_attention
    assert order.step == "create_label" and "AddressRejected" in order.attention_reason
    assert ledger(str(order.pk))["charged"] > 0 and ledger(str(order.pk))["refunded"] == 0
    label = StepAttempt.objects.get(process_id=order.pk, step="create_label", direction="forward")
    assert label.error_class == "fulfillment.gateways.AddressRejected" and not label.service_failed
    assert not LabelRecord.objects.exists()


def test_one_sick_order_neither_slows_nor_stops_its_step(catalogue):
    """One order whose every label call the carrier refuses as unavailable, among healthy ones:
    its failures are counted once, as one failing order, so the others are never held back."""
    with clock.frozen():
        sick = place_order(email="sick@example.com")
        fault_add(
            service="carrier", operation="create_label", mode="unavailable", times=50, reference=str(sick.pk)
        )
        for n in range(8):
            place_order(email=f"well{n}@example.com")
        run_until_at_rest(limit=timedelta(minutes=30))
    sick.refresh_from_db()
    assert sick.state == OrderState.CANCELLED  # its own retries ran out
    assert Order.objects.filter(state=OrderState.COMPLETED).count() == 8
    assert opened("create_label") == 0
    assert not ProcessEvent.objects.filter(reason__contains="create_label slowed").exists()


def run_orders(count: int, *, every: timedelta) -> None:
    """Place `count` orders `every` apart, running everything due, until all are at rest."""
    with clock.frozen():
        start, placed = clock.now(), 0
        while placed < count or Order.objects.exclude(run_status=RunStatus.FINISHED).exists():
            while placed < count and clock.now() >= start + every * placed:
                place_order(email=f"o{placed}@example.com")
                placed += 1
            run_all_due()
            assert clock.now() - start < timedelta(minutes=30), "the orders never came to rest"
            advance_to_next_due(cap=timedelta(seconds=1))


def assert_completed_or_gave_up_undone(orders, *, at_least: int) -> None:
    """Every order completed with one label, or used up its label retries (the retry policy's
    business, not a stop) and was cancelled with its charge refunded; none needs a person."""
    states = Counter(orders.values_list("state", flat=True))
    assert states[OrderState.COMPLETED] >= at_least
    assert set(states) <= {OrderState.COMPLETED, OrderState.CANCELLED}
    for order in orders.filter(state=OrderState.CANCELLED):
        assert ProcessEvent.objects.filter(
            process_id=order.pk, reason__contains="create_label gave up after 6"
        ).exists()
        assert ledger(str(order.pk))["refunded"] == ledger(str(order.pk))["charged"]
    completed = [str(pk) for pk in orders.filter(state=OrderState.COMPLETED).values_list("pk", flat=True)]
    assert set(map(tuple, (d.values() for d in labels_bulk(completed).values()))) == {(1, 0)}
    assert not orders.filter(needs_attention=True).exists()


def test_a_carrier_failing_a_third_of_its_calls_is_degraded_never_slowed_nor_stopped(settings, monkeypatch):
    """The carrier refuses 30 % of its calls for the whole run. It still answers most of them,
    so the label step goes on at the full rate: no order waits its turn, none is held by a
    circuit, and a random failure is retried soon (it backs off as after a first attempt)."""
    make_catalogue(on_hand=1000)
    settings.SIMULATORS = {**settings.SIMULATORS, "DEGRADED": {"carrier": 0.3}}
    monkeypatch.setattr(faults, "_rng", random.Random(11))

    run_orders(60, every=timedelta(seconds=1))

    assert_completed_or_gave_up_undone(Order.objects.all(), at_least=57)
    assert opened("create_label") == 0
    assert StepAttempt.objects.filter(step="create_label", service_failed=True).count() >= 10
    assert not ProcessEvent.objects.filter(kind=EventKind.CIRCUIT).exists()
    retries = ProcessEvent.objects.filter(reason__contains="of create_label failed")
    delays = [
        float(reason.rsplit("next attempt in ", 1)[1].rstrip("s"))
        for reason in retries.values_list("reason", flat=True)
    ]
    assert delays and max(delays) <= CreateLabel.retry.backoff_base * 4  # never the 16 s of a fifth attempt


def test_a_carrier_failing_most_of_its_calls_slows_the_label_step_and_never_stops_it(settings, monkeypatch):
    """The carrier refuses 65 % of its calls: the label step is slowed (calls at about 70 % of
    the normal rate), orders wait their turn a few seconds at most, spending no attempt, and
    the circuit never opens: the carrier still answers a third of the calls."""
    make_catalogue(on_hand=1000)
    settings.SIMULATORS = {**settings.SIMULATORS, "DEGRADED": {"carrier": 0.65}}
    monkeypatch.setattr(faults, "_rng", random.Random(5))

    run_orders(60, every=timedelta(seconds=1))

    assert_completed_or_gave_up_undone(Order.objects.all(), at_least=40)
    assert opened("create_label") == 0
    slowed = ProcessEvent.objects.filter(kind=EventKind.CIRCUIT, reason__contains="create_label slowed")
    assert slowed.count() >= 5
    assert "calls go at" in slowed.first().reason and "no attempt is spent" in slowed.first().reason
    assert max(paced_waits()) < 10


def paced_waits() -> list[float]:
    """Seconds between each order's 'slowed' journal line and its next label call."""
    waits = []
    for note in ProcessEvent.objects.filter(reason__contains="create_label slowed"):
        call = (
            StepAttempt.objects.filter(
                process_id=note.process_id, step="create_label", started_at__gte=note.created_at
            )
            .order_by("started_at")
            .first()
        )
        waits.append((call.started_at - note.created_at).total_seconds())
    return waits


def open_payment_circuit() -> None:
    """The payment gateway is down until the payment step's circuit opens (circuit_scenarios)."""
    outage_set(service="payment", on=True, by="test")
    open_circuit("charge_payment")


def test_a_probe_that_fails_for_its_own_reason_closes_the_circuit(catalogue, monkeypatch):
    """The payment gateway is back; the first order to probe pays with a card whose issuer does
    not answer. The gateway answered, so the outage is over: the circuit closes at once, its
    cool-down never grew, and that order alone retries its card."""
    with clock.frozen():
        open_payment_circuit()
        outage_set(service="payment", on=False, by="test")
        circuit = Circuit.objects.get(step="charge_payment")
        clock.advance(circuit.probe_at - clock.now())
        flaky = place_order(token="tok_flaky", email="flaky@example.com")
        Order.objects.filter(pk=flaky.pk).update(next_run_at=clock.now() - timedelta(seconds=60))
        monkeypatch.setattr(faults, "_rng", AlwaysDraws(0.1))  # the issuer does not answer
        runner_run(flaky.pk)
        circuit.refresh_from_db()
    assert circuit.state == CircuitState.CLOSED and circuit.trips == 0
    probe = CircuitEvent.objects.get(circuit=circuit, kind=CircuitEventKind.PROBE)
    assert str(flaky.pk) in probe.detail
    attempt = StepAttempt.objects.filter(process_id=flaky.pk, step="charge_payment").latest("started_at")
    assert attempt.error_class.endswith("IssuerUnavailable") and not attempt.service_failed
    flaky.refresh_from_db()
    assert flaky.attempts == 1 and "IssuerUnavailable" in flaky.last_error  # its own retry, counted


def test_two_service_failures_in_a_row_reopen_the_circuit_for_twice_as_long(catalogue):
    """Still down: the first probe fails, another order probes at once and fails too; only then
    does the circuit re-open, for twice the cool-down."""
    with clock.frozen():
        open_payment_circuit()
        circuit = Circuit.objects.get(step="charge_payment")
        first_cooldown = circuit.probe_at - clock.now()
        clock.advance(circuit.probe_at - clock.now())
        run_all_due()
        circuit.refresh_from_db()
    assert circuit.state == CircuitState.OPEN and circuit.trips == 2
    events = CircuitEvent.objects.filter(circuit=circuit).order_by("pk")
    kinds = [event.kind for event in events]
    assert kinds[-4:] == ["probe", "probe_failed", "probe", "reopened"]
    assert "next probe in 60s" in events.last().detail
    assert first_cooldown <= timedelta(seconds=30)


def test_a_refusal_answers_a_probe(catalogue):
    """A declined card is an answer too: the circuit closes and the order is cancelled."""
    with clock.frozen():
        open_payment_circuit()
        outage_set(service="payment", on=False, by="test")
        circuit = Circuit.objects.get(step="charge_payment")
        clock.advance(circuit.probe_at - clock.now())
        declined = place_order(token="tok_declined", email="declined@example.com")
        Order.objects.filter(pk=declined.pk).update(next_run_at=clock.now() - timedelta(seconds=60))
        runner_run(declined.pk)
        circuit.refresh_from_db()
        declined = drive(declined)
    assert circuit.state == CircuitState.CLOSED
    assert declined.state == OrderState.CANCELLED


def test_one_broken_carrier_account_holds_only_its_own_labels(catalogue):
    """Two warehouses ship with two carrier accounts; the carrier refuses every call for one of
    them. That account's circuit opens and holds its orders; the other account's orders never
    wait and complete. The Incidents page and each held order name the account."""
    north = Warehouse.objects.create(code="NORTH", name="North", carrier_account="ACME-NORTH")
    catalogue.warehouse.carrier_account = "ACME-MAIN"
    catalogue.warehouse.save()
    for product in (catalogue.mug, catalogue.tee):
        Stock.objects.create(product=product, warehouse=north, on_hand=100)
    fault_add(
        service="carrier", operation="create_label", mode="unavailable", times=10**6, account="ACME-NORTH"
    )
    with clock.frozen():
        broken = [place_in(north, n) for n in range(7)]
        working = [place_order(email=f"main{n}@example.com") for n in range(7)]
        for _ in range(60):
            run_all_due()
            advance_to_next_due(cap=timedelta(seconds=1))

    circuit = Circuit.objects.get(step="create_label")
    assert (circuit.key, circuit.state) == ("ACME-NORTH", CircuitState.OPEN)
    assert all(o.state == OrderState.COMPLETED for o in refreshed(working))
    held = refreshed(broken)
    assert all(
        o.step == "create_label" and o.held_by == "circuit" and o.held_key == "ACME-NORTH" for o in held
    )
    assert all(o.state != OrderState.CANCELLED for o in held)
    keys = set(StepAttempt.objects.filter(step="create_label").values_list("flow_key", flat=True))
    assert keys == {"ACME-NORTH", "ACME-MAIN"}
    note = ProcessEvent.objects.filter(process_id=held[0].pk, reason__contains="waits:").get()
    assert note.reason.startswith("create_label · ACME-NORTH waits")


def place_in(warehouse: Warehouse, n: int) -> Order:
    return order_place(
        email=f"north{n}@example.com",
        shipping_address=ADDRESS,
        lines=[LineRequest("MUG-001", 1)],
        payment_token="tok_ok",
        actor=Actor("client", "test"),
        warehouse=warehouse,
    )


def refreshed(orders: list[Order]) -> list[Order]:
    return list(Order.objects.filter(pk__in=[o.pk for o in orders]))
