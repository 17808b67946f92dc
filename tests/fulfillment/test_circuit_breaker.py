"""Circuit breakers per step, in-process under a controlled clock, against the simulators."""

import threading
from collections import Counter
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction

from fulfillment.models import Order, OrderState, Shipment
from fulfillment.simulators.calls import calls_refused
from fulfillment.simulators.carrier import labels_bulk
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import FaultRule, LabelRecord
from fulfillment.simulators.outages import outage_set
from fulfillment.steps import SERVICE_CIRCUIT, CreateLabel
from fulfillment.workflow import ORDER_WORKFLOW
from processes import clock, runner, signals, sweeper
from processes.flow import admission, figures, operators, sweep
from processes.journal import Actor
from processes.models.flow import Circuit, CircuitEvent, CircuitEventKind, CircuitState
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from tests.circuit_scenarios import (
    OUTAGE,
    advance_to_next_due,
    carrier_down,
    open_circuit,
    run_all_due,
    runner_run,
)
from tests.conftest import ENGINE_DB
from tests.factories import drive, make_catalogue, place_order

pytestmark = ENGINE_DB

LABEL = Order._meta.label_lower


def carrier_up(rule: FaultRule) -> int:
    """End the outage; returns the calls the carrier refused while it was down."""
    rule.refresh_from_db()
    FaultRule.objects.filter(pk=rule.pk).update(remaining=0)
    return OUTAGE - rule.remaining


def circuit_events(kind: str) -> int:
    return CircuitEvent.objects.filter(circuit__step="create_label", kind=kind).count()


@pytest.fixture
def alerts():
    received = []

    def listen(sender, **facts):
        received.append(facts)

    signals.circuit_changed.connect(listen)
    yield received
    signals.circuit_changed.disconnect(listen)


def test_ten_minute_carrier_outage_with_200_orders(alerts):
    """The carrier is down for ten minutes while 200 orders pass: none ends needing attention,
    the carrier sees at most the opening threshold plus the probes, every order completes with
    one label, and the circuit opens once and closes once with exactly two alerts."""
    make_catalogue(on_hand=1000)
    with clock.frozen():
        start = clock.now()
        outage_from, outage_to = start + timedelta(seconds=60), start + timedelta(seconds=660)
        placed, down, refused = 0, None, None
        while placed < 200 or Order.objects.exclude(run_status=RunStatus.FINISHED).exists():
            now = clock.now()
            if not down and now >= outage_from:
                down = outage_set(service="carrier", on=True, by="test")
            if down and refused is None and now >= outage_to:
                outage_set(service="carrier", on=False, by="test")
                refused = sum(calls_refused("carrier", reason="outage").values())
            while placed < 200 and now >= start + timedelta(seconds=3.5 * placed):
                place_order()
                placed += 1
            run_all_due()
            assert clock.now() - start < timedelta(hours=2), "the orders never came to rest"
            advance_to_next_due(cap=timedelta(seconds=1))
        # The incident is over once the circuit has stayed closed for CIRCUIT_SETTLE: the
        # sweeper's look at the circuits then sends the "closed" alert.
        circuit = Circuit.objects.get(process_type=LABEL, step="create_label")
        assert circuit.close_alert_at is not None and circuit_events(CircuitEventKind.ALERT) == 1
        clock.advance(max(circuit.close_alert_at - clock.now(), timedelta(0)))
        sweep.tick()

    orders = Order.objects.all()
    assert orders.count() == 200
    assert Counter(orders.values_list("state", flat=True)) == {OrderState.COMPLETED: 200}
    assert not orders.filter(needs_attention=True).exists()
    labels_per_order = Counter(
        LabelRecord.objects.filter(voided_at__isnull=True).values_list("reference", flat=True)
    )
    assert len(labels_per_order) == 200 and set(labels_per_order.values()) == {1}
    assert Shipment.objects.count() == 200

    # "About 20": the circuit opens on evidence (here the first order, one retry left, and a
    # second one saw every call fail: 8 calls), then each round of probes that finds the
    # carrier still down costs two calls, in four rounds.
    probes = circuit_events(CircuitEventKind.PROBE)
    assert 0 < refused <= 20, (refused, probes)
    # Back up, the carrier is found by the next round of probes: at most the longest cool-down.
    closed = CircuitEvent.objects.get(circuit__step="create_label", kind=CircuitEventKind.CLOSED).created_at
    recovered = (closed - outage_to).total_seconds()
    assert 0 <= recovered <= SERVICE_CIRCUIT.cooldowns()[1], recovered  # the longest cool-down
    print(f"outage: {refused} refused, {probes} probes, closed {recovered:.0f}s after the carrier's return")
    assert circuit_events(CircuitEventKind.OPENED) == 1
    assert circuit_events(CircuitEventKind.CLOSED) == 1
    assert circuit_events(CircuitEventKind.ALERT) == 2
    assert [alert["change"] for alert in alerts] == ["circuit_opened", "circuit_closed"]
    circuit = Circuit.objects.get(process_type=LABEL, step="create_label")
    assert circuit.state == CircuitState.CLOSED
    # Orders that waited say so in their journal, once each, with the time they began to wait.
    waits = ProcessEvent.objects.filter(kind=EventKind.CIRCUIT, reason__contains="waits:")
    assert waits.count() > 100
    assert max(Counter(waits.values_list("process_id", flat=True)).values()) == 1


def label_outage() -> FaultRule:
    """Take the carrier down until the label step's circuit opens (circuit_scenarios): twelve
    orders, ten failed there and three held. Returns the outage, for carrier_up to end it."""
    rule = carrier_down()
    open_circuit("create_label", then=2)
    return rule


def test_released_orders_go_at_the_policy_rate(catalogue):
    """After the circuit closes the held orders are let go one per slot, not all at once."""
    with clock.frozen():
        rule = label_outage()
        orders = list(Order.objects.all())
        circuit = Circuit.objects.get(step="create_label")
        carrier_up(rule)
        clock.advance(circuit.probe_at - clock.now())
        closed_at = None
        label_times = []
        for _ in range(400):
            run_all_due()
            circuit.refresh_from_db()
            if closed_at is None and circuit.state == CircuitState.CLOSED:
                closed_at = circuit.closed_at
            advance_to_next_due(cap=timedelta(milliseconds=50))
            if all(o.run_status == RunStatus.FINISHED for o in Order.objects.all()):
                break
        label_times = sorted(
            StepAttempt.objects.filter(step="create_label", outcome="succeeded").values_list(
                "started_at", flat=True
            )
        )
    assert closed_at is not None and len(label_times) == len(orders)
    released = [t for t in label_times if t > closed_at]
    spread = (released[-1] - released[0]).total_seconds()
    assert spread >= (len(released) - 1) / SERVICE_CIRCUIT.release_per_second - 0.01


def test_the_incident_shows_the_errors_that_opened_it(catalogue):
    with clock.frozen():
        label_outage()
        incident = figures.describe(Circuit.objects.get(step="create_label"))
    assert incident.errors and incident.errors[0]["error_class"].endswith("ServiceUnavailable")
    assert incident.errors[0]["count"] >= SERVICE_CIRCUIT.min_processes
    assert incident.held > 0 and incident.alerts == 1


def test_an_outage_paused_by_hand_still_alerts_when_it_ends(catalogue, alerts):
    """Opened by failures, then paused by an operator, then resumed: two alerts, not one."""
    actor = Actor("operator", "olga")
    with clock.frozen():
        carrier_up(label_outage())
        operators.pause(LABEL, "create_label", actor=actor, reason="carrier says: maintenance")
        operators.resume(LABEL, "create_label", actor=actor, reason="carrier is back")
    assert [alert["change"] for alert in alerts] == ["circuit_opened", "circuit_closed"]


def test_declined_cards_never_open_the_payment_circuit(catalogue):
    """A refusal is an answer: ten declined cards in a row leave the payment circuit closed."""
    with clock.frozen():
        for _ in range(10):
            drive(place_order(token="tok_declined"))
    assert Order.objects.filter(state=OrderState.CANCELLED).count() == 10
    assert not Circuit.objects.filter(step="charge_payment").exclude(state=CircuitState.CLOSED).exists()
    assert not StepAttempt.objects.filter(step="charge_payment", service_failed=True).exists()


def test_one_poisoned_order_does_not_open_the_circuit(catalogue):
    """Failures of a single order, however many, are that order's problem: the policy asks for
    failures from several orders before stopping everyone."""
    order = place_order()
    fault_add(
        service="carrier", operation="create_label", mode="unavailable", times=6, reference=str(order.pk)
    )
    with clock.frozen():
        order = drive(order)
    assert order.state == OrderState.CANCELLED  # its own retries ran out, as before
    assert not Circuit.objects.exclude(state=CircuitState.CLOSED).exists()


def test_five_failures_among_a_steps_first_six_calls_do_not_open_its_circuit(catalogue):
    """The soak's flake: the carrier refuses a fifth of its calls at random and five of the label
    step's first six calls failed, for five orders. The share of six calls is no evidence of an
    outage (one answered), so the circuit stays closed and each order retries as its policy says."""
    with clock.frozen():
        runner_run(place_order(email="answered@example.com").pk)
        for n in range(5):
            order = place_order(email=f"unlucky{n}@example.com")
            fault_add(
                service="carrier", operation="create_label", mode="unavailable", reference=str(order.pk)
            )
            runner_run(order.pk)

    failed = StepAttempt.objects.filter(step="create_label", service_failed=True)
    assert failed.count() == 5 and StepAttempt.objects.filter(step="create_label").count() == 6
    assert not Circuit.objects.exclude(state=CircuitState.CLOSED).exists()
    assert circuit_events(CircuitEventKind.OPENED) == 0
    retries = ProcessEvent.objects.filter(kind=EventKind.RETRY_SCHEDULED, step="create_label")
    assert retries.count() == 5


def test_manual_pause_holds_the_step_until_resumed(catalogue):
    with clock.frozen():
        operators.pause(LABEL, "create_label", actor=Actor("operator", "olga"), reason="carrier maintenance")
        order = place_order()
        for _ in range(20):
            run_all_due()
            advance_to_next_due(cap=timedelta(seconds=30))
        order.refresh_from_db()
        assert order.step == "create_label" and order.held_since is not None
        assert order.attempts == 0 and not LabelRecord.objects.exists()
        held = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.CIRCUIT)
        assert "paused by olga (carrier maintenance)" in held.reason

        operators.resume(LABEL, "create_label", actor=Actor("operator", "olga"), reason="maintenance over")
        order = drive(order)
    assert order.state == OrderState.COMPLETED
    resumed = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.OPERATOR_ACTION)
    assert resumed.actor == "olga" and "maintenance over" in resumed.reason
    assert circuit_events(CircuitEventKind.ALERT) == 0  # a pause by hand is no outage


def test_pause_with_an_end_time_lets_go_by_itself(catalogue):
    with clock.frozen():
        until = clock.now() + timedelta(minutes=5)
        operators.pause(LABEL, "create_label", actor=Actor("operator", "olga"), reason="window", until=until)
        order = place_order()
        for _ in range(10):
            run_all_due()
            advance_to_next_due(cap=timedelta(seconds=10))
        order.refresh_from_db()
        assert order.step == "create_label" and order.held_since and clock.now() < until
        clock.advance(until - clock.now())
        sweeper.sweep_once()
        order = drive(order)
    assert order.state == OrderState.COMPLETED
    assert Circuit.objects.get(step="create_label").state == CircuitState.CLOSED


def test_pause_refuses_a_step_without_a_circuit_and_changes_nothing(catalogue):
    actor = Actor("operator", "olga")
    with pytest.raises(ValueError, match="no circuit breaker"):
        operators.pause(LABEL, "pick", actor=actor, reason="x")
    with pytest.raises(ValueError, match="no step 'nope'"):
        operators.pause(LABEL, "nope", actor=actor, reason="x")
    with pytest.raises(ValueError, match="must be in the future"):
        operators.pause(
            LABEL, "create_label", actor=actor, reason="x", until=clock.now() - timedelta(seconds=1)
        )
    with pytest.raises(ValueError, match="nothing to resume"):
        operators.resume(LABEL, "create_label", actor=actor, reason="x")
    assert not Circuit.objects.exclude(state=CircuitState.CLOSED).exists()


def orders_needing_attention_at_confirmation(count: int) -> list[Order]:
    """Orders that ran out of retries at the confirmation step (its policy asks a person)."""
    mail_down = fault_add(service="mail", operation="send", mode="unavailable", times=1000)
    orders = []
    with clock.frozen():
        for n in range(count):
            # One order at a time, minutes apart: the window never holds three orders' failures,
            # so no circuit opens and each order runs out of its own retries.
            orders.append(drive(place_order(email=f"c{n}@example.com")))
            clock.advance(timedelta(minutes=2))
    assert all(o.needs_attention and o.step == "send_confirmation" for o in orders)
    FaultRule.objects.filter(pk=mail_down.pk).update(remaining=0)  # the mail service is back
    return orders


def test_redrive_retries_each_order_that_needs_attention_once(catalogue):
    """Orders that need attention at a step are retried in bulk; starting the redrive twice
    does not retry anyone twice."""
    orders = orders_needing_attention_at_confirmation(3)
    actor = Actor("operator", "olga")
    first, started = operators.start_redrive(LABEL, "send_confirmation", actor=actor, reason="mail is back")
    again, started_again = operators.start_redrive(LABEL, "send_confirmation", actor=actor, reason="click")
    assert started and not started_again and again.pk == first.pk and first.total == 3
    assert operators.run_redrive(first.pk) == 3
    assert operators.run_redrive(first.pk) == 0
    first.refresh_from_db()
    assert first.finished_at is not None and first.done == 3
    with clock.frozen():
        orders = [drive(o) for o in orders]
    assert all(o.state == OrderState.COMPLETED for o in orders)
    retried = ProcessEvent.objects.filter(kind=EventKind.OPERATOR_ACTION, reason__contains="redrive")
    assert Counter(retried.values_list("process_id", flat=True)) == {o.pk: 1 for o in orders}


def test_a_finished_redrive_run_again_retries_nobody(catalogue):
    """The queue may run a redrive's task again after it finished: the ORM broker re-delivers a
    killed worker's task `retry` seconds later, when the sweeper has long restarted and finished
    it. That run retries nobody, not even an order that needs attention since (no operator asked
    for it), and does not report the redrive finished a second time."""
    mail_down = fault_add(service="mail", operation="send", mode="unavailable", times=1000)
    with clock.frozen():
        first = drive(place_order())
    assert first.needs_attention
    FaultRule.objects.filter(pk=mail_down.pk).update(remaining=0)
    redrive, _ = operators.start_redrive(
        LABEL, "send_confirmation", actor=Actor("operator", "olga"), reason="mail is back"
    )
    assert operators.run_redrive(redrive.pk) == 1
    FaultRule.objects.filter(pk=mail_down.pk).update(remaining=1000)
    with clock.frozen(at=clock.now() + timedelta(minutes=10)):
        later = drive(place_order())
    assert later.needs_attention

    assert operators.run_redrive(redrive.pk) == 0

    later.refresh_from_db()
    assert later.needs_attention
    assert not ProcessEvent.objects.filter(process_id=later.pk, kind=EventKind.OPERATOR_ACTION).exists()
    finished = CircuitEvent.objects.filter(kind=CircuitEventKind.REDRIVE, detail__endswith="finished")
    assert finished.count() == 1


@contextmanager
def locked_elsewhere(order: Order, *, for_seconds: float = 10.0):
    """Hold the order's row lock in another connection, as a claim or an operator would,
    until `for_seconds` pass or the block ends."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic():
            Order.objects.select_for_update().get(pk=order.pk)
            locked.set()
            release.wait(for_seconds)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    locked.wait(10)
    try:
        yield
    finally:
        release.set()
        holder.join()


def start_confirmation_redrive():
    redrive, _ = operators.start_redrive(LABEL, "send_confirmation", actor=Actor("operator", "o"), reason="r")
    return redrive


def test_redrive_waits_for_an_order_locked_by_someone_else(catalogue):
    """An order locked elsewhere while the redrive runs (a claim, an operator's action, a killed
    worker's session) is retried once the lock goes, not left behind by a 'finished' redrive."""
    orders = orders_needing_attention_at_confirmation(2)
    with locked_elsewhere(orders[0], for_seconds=1.5):
        redrive = start_confirmation_redrive()
        assert operators.run_redrive(redrive.pk) == 2
    redrive.refresh_from_db()
    assert redrive.done == 2 and redrive.skipped == 0
    assert not Order.objects.filter(needs_attention=True).exists()


def test_redrive_ends_without_an_order_locked_for_too_long_and_says_so(catalogue, settings):
    settings.PROCESSES = {**getattr(settings, "PROCESSES", {}), "REDRIVE_LOCK_WAIT": 1.0}
    orders = orders_needing_attention_at_confirmation(2)
    with locked_elsewhere(orders[0]):
        redrive = start_confirmation_redrive()
        assert operators.run_redrive(redrive.pk) == 1
    redrive.refresh_from_db()
    assert redrive.finished_at is not None and redrive.done == 1 and redrive.skipped == 1
    finished = CircuitEvent.objects.filter(kind=CircuitEventKind.REDRIVE, detail__contains="finished").get()
    assert "1 left locked by others" in finished.detail


def run_until_label_failures(order: Order, failures: int) -> None:
    """Run the order, jumping over its backoffs, until its label step failed `failures` times."""
    for _ in range(100):
        failed = StepAttempt.objects.filter(process_id=order.pk, step="create_label", outcome="failed")
        if failed.count() >= failures:
            return
        order.refresh_from_db()
        if order.next_run_at and order.next_run_at > clock.now():
            clock.advance(order.next_run_at - clock.now() + timedelta(milliseconds=1))
        runner_run(order.pk)
    raise AssertionError(f"order {order.pk} did not fail {failures} times at its label")


def test_an_order_about_to_run_out_of_retries_opens_the_circuit_with_one_other_failing(catalogue):
    """At the start of an outage one order's quick retries can outrun the orders behind it: its
    last retry opens the circuit if one other order fails too, instead of compensating it."""
    carrier_down()
    with clock.frozen():
        first = place_order()
        run_until_label_failures(first, CreateLabel.retry.max_attempts - 1)
        run_until_label_failures(place_order(), 1)
        assert not Circuit.objects.exclude(state=CircuitState.CLOSED).exists()  # two orders: not yet
        run_until_label_failures(first, CreateLabel.retry.max_attempts)
    first.refresh_from_db()
    assert Circuit.objects.get(step="create_label").state == CircuitState.OPEN
    assert first.state == OrderState.INVENTORY_RESERVED and first.direction == "forward"
    assert first.held_since is not None and first.attempts == CreateLabel.retry.max_attempts - 1


def test_a_probe_whose_worker_dies_hands_over_once_its_time_is_up(catalogue):
    """The probe's worker dies after claiming its call (a crash, a deploy). The circuit stays
    half-open, the other orders held, until the probe's time (attempt timeout + lease grace)
    runs out; then one order probes again, the carrier answers, the circuit closes once and
    every order completes with exactly one live label."""
    with clock.frozen():
        carrier_up(label_outage())
        circuit = Circuit.objects.get(step="create_label")
        clock.advance(circuit.probe_at - clock.now())
        doomed = Order.objects.filter(step="create_label").order_by("next_run_at").first()
        assert isinstance(runner.claim_step(ORDER_WORKFLOW, doomed.pk, "doomed-worker"), runner.Claim)
        circuit.refresh_from_db()
        assert (circuit.state, circuit.probe_process) == (CircuitState.HALF_OPEN, doomed.pk)

        clock.advance(circuit.probe_until - clock.now() - timedelta(seconds=1))
        run_all_due()  # nobody may call the carrier while the dead probe's time lasts
        circuit.refresh_from_db()
        assert (circuit.state, circuit.probe_process) == (CircuitState.HALF_OPEN, doomed.pk)
        assert not LabelRecord.objects.exists()

        clock.advance(timedelta(seconds=2))
        for _ in range(400):
            run_all_due()
            if not Order.objects.exclude(run_status=RunStatus.FINISHED).exists():
                break
            advance_to_next_due(cap=timedelta(seconds=1))

    circuit.refresh_from_db()
    assert circuit.state == CircuitState.CLOSED
    assert (circuit_events(CircuitEventKind.PROBE), circuit_events(CircuitEventKind.CLOSED)) == (2, 1)
    orders = Order.objects.all()
    assert Counter(orders.values_list("state", flat=True)) == {OrderState.COMPLETED: orders.count()}
    assert labels_bulk(str(pk) for pk in orders.values_list("pk", flat=True)) == {
        str(pk): {"live": 1, "voided": 0} for pk in orders.values_list("pk", flat=True)
    }
    abandoned = StepAttempt.objects.filter(process_id=doomed.pk, step="create_label", outcome="abandoned")
    assert abandoned.count() == 1


def test_after_a_failed_probe_another_order_probes(catalogue):
    """The carrier is back, but the first order to probe fails for a reason of its own (every
    label for it is refused as unavailable). One service failure is not enough to re-open the
    circuit: the order steps aside, another order probes at once, succeeds and closes it; the
    failing order alone goes on failing, and only against its own retries."""
    with clock.frozen():
        carrier_up(label_outage())
        circuit = Circuit.objects.get(step="create_label")
        clock.advance(circuit.probe_at - clock.now())
        poisoned = Order.objects.filter(step="create_label").order_by("next_run_at").first()
        fault_add(
            service="carrier",
            operation="create_label",
            mode="unavailable",
            times=OUTAGE,
            reference=str(poisoned.pk),
        )
        runner_run(poisoned.pk)
        circuit.refresh_from_db()
        poisoned.refresh_from_db()
        assert (circuit.state, circuit.probe_process, circuit.probe_failures) == (
            CircuitState.HALF_OPEN,
            None,
            1,
        )
        assert circuit.trips == 1 and poisoned.next_run_at > clock.now()
        close_by_probe(circuit)

    probes = CircuitEvent.objects.filter(circuit=circuit, kind=CircuitEventKind.PROBE).order_by("pk")
    assert [str(poisoned.pk) in probe.detail for probe in probes] == [True, False]
    assert not CircuitEvent.objects.filter(circuit=circuit, kind=CircuitEventKind.REOPENED).exists()


def test_a_circuit_that_opens_again_soon_after_closing_is_one_incident(catalogue, settings, alerts):
    """The carrier comes back, the probe closes the circuit, and the carrier fails again
    before CIRCUIT_SETTLE has passed: the circuit reopens within the same incident (no second
    "opened" alert, the incident's start kept), and once it has stayed closed for
    CIRCUIT_SETTLE the one "closed" alert goes out. Two alerts for the whole episode."""
    settings.PROCESSES = {**settings.PROCESSES, "CIRCUIT_SETTLE": 120.0}
    with clock.frozen():
        carrier_up(label_outage())
        circuit = Circuit.objects.get(step="create_label")
        began = circuit.incident_since
        close_by_probe(circuit)
        assert circuit.close_alert_at == circuit.closed_at + timedelta(seconds=120)

        clock.advance(timedelta(seconds=30))
        rule = label_outage()  # new orders, the carrier down again
        circuit.refresh_from_db()
        assert circuit.incident_since == began and circuit.close_alert_at is None
        reopened = CircuitEvent.objects.filter(circuit=circuit, kind=CircuitEventKind.REOPENED).first()
        assert "the same incident" in reopened.detail
        sweep.tick()
        assert [alert["change"] for alert in alerts] == ["circuit_opened"]

        carrier_up(rule)
        close_by_probe(circuit)
        clock.advance(timedelta(seconds=119))
        sweep.tick()
        assert [alert["change"] for alert in alerts] == ["circuit_opened"]
        clock.advance(timedelta(seconds=1))
        sweep.tick()
        sweep.tick()  # sent once
    assert [alert["change"] for alert in alerts] == ["circuit_opened", "circuit_closed"]
    assert circuit_events(CircuitEventKind.OPENED) == 1
    circuit.refresh_from_db()
    assert circuit.close_alert_at is None


def close_by_probe(circuit: Circuit) -> None:
    """Let the circuit's probe go and run orders until it has closed."""
    circuit.refresh_from_db()
    clock.advance(max(circuit.probe_at - clock.now(), timedelta(0)))
    for _ in range(50):
        run_all_due()
        circuit.refresh_from_db()
        if circuit.state == CircuitState.CLOSED:
            return
        advance_to_next_due(cap=timedelta(seconds=1))
    raise AssertionError("the circuit did not close")


def test_a_claim_that_read_the_circuit_open_goes_on_if_it_closed_meanwhile(catalogue):
    """The race seen in the outage soak: an order's claim reads the circuit open, the probe's
    success closes it and wakes the held orders (passing over this one, locked by its claim),
    and the claim then holds its order. Deciding under the circuit's lock, the claim sees the
    close: the order takes a release slot instead of sleeping for PAUSE_RECHECK (5 min)."""
    with clock.frozen():
        carrier_up(label_outage())
        read_while_open = Circuit.objects.get(step="create_label")
        clock.advance(read_while_open.probe_at - clock.now())
        prober, held = Order.objects.filter(step="create_label").order_by("next_run_at")[:2]
        runner_run(prober.pk)  # probes, and its success closes the circuit
        assert Circuit.objects.get(step="create_label").state == CircuitState.CLOSED
        with transaction.atomic():
            order = Order.objects.select_for_update().get(pk=held.pk)
            admission._hold_under_lock(order, CreateLabel(), read_while_open, clock.now())
            assert order.held_since is None  # released: it took a slot, it is no longer held
            assert order.next_run_at - clock.now() < timedelta(seconds=10)
