"""Flow control where workers meet: the order its transactions lock rows in, a probe's call in
flight when an operator resumes, a flagged order among those waiting under a limit."""

import re
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext

from fulfillment.models import Order
from fulfillment.simulators.models import FaultRule
from fulfillment.workflow import ORDER_WORKFLOW
from processes import clock, runner
from processes.flow import limits, operators
from processes.journal import Actor
from processes.models.flow import Circuit, CircuitState
from processes.models.journal import StepAttempt
from processes.models.process import Hold
from tests.circuit_scenarios import LABEL, open_label_circuit, runner_run
from tests.conftest import ENGINE_DB
from tests.factories import place_order

pytestmark = ENGINE_DB
LOCKED = re.compile(r'FROM "(processes_circuit|processes_servicelimiter)".*FOR (NO KEY )?UPDATE', re.S)


def rows_locked(queries) -> list[str]:
    """The flow-control tables a transaction locked rows of, in order."""
    return [m[1] for q in queries if (m := LOCKED.search(q["sql"]))]


def test_a_limited_probe_locks_its_circuit_before_its_limiter_when_claimed_and_applied(catalogue, settings):
    """The claim of a probe and the apply of its failed call both lock the circuit's row before
    the limiter's (as every transaction does: the process, its circuit, its limiter), so a call
    ending and another being claimed at one limited step never wait on each other in a cycle."""
    settings.CARRIER_CONCURRENCY_LIMIT = 4
    with clock.frozen():
        circuit = open_label_circuit(then=2)  # the carrier stays down
        clock.advance(circuit.probe_at - clock.now())
        prober = Order.objects.filter(step="create_label", held_by=Hold.CIRCUIT).first()
        with CaptureQueriesContext(connection) as claimed:
            claim = runner.claim_step(ORDER_WORKFLOW, prober.pk, "w1")
        assert isinstance(claim, runner.Claim) and claim.probe
        outcome = runner.perform(claim)
        assert outcome.service_failed
        with CaptureQueriesContext(connection) as applied:
            runner.apply_outcome(claim, outcome)

    assert rows_locked(claimed) == ["processes_circuit", "processes_servicelimiter"]
    locked = rows_locked(applied)
    assert locked[-1] == "processes_servicelimiter" and "processes_circuit" in locked
    assert locked.index("processes_circuit") < locked.index("processes_servicelimiter")


def test_a_resume_while_the_probe_is_calling_leaves_its_call_alone(catalogue):
    """The carrier is back; an order probes; an operator clicks Resume now while its call is in
    flight. The wake-up of the waiting orders passes over the prober, and a worker that picks
    it up anyway sees a live lease: the probe's label is kept, nothing is abandoned."""
    with clock.frozen():
        circuit = open_label_circuit(then=2)
        FaultRule.objects.filter(service="carrier").update(remaining=0)  # the carrier is back
        clock.advance(circuit.probe_at - clock.now())
        prober = (
            Order.objects.filter(step="create_label", held_by=Hold.CIRCUIT).order_by("next_run_at").first()
        )
        claim = runner.claim_step(ORDER_WORKFLOW, prober.pk, "w1")
        assert isinstance(claim, runner.Claim) and claim.probe
        prober.refresh_from_db()
        assert prober.lease_owner == "w1"

        clock.advance(timedelta(seconds=1))
        operators.resume(LABEL, "create_label", actor=Actor("operator", "olga"), reason="carrier is back")
        prober.refresh_from_db()
        assert prober.next_run_at == prober.lease_until  # the resume's wake-up passed over it
        Order.objects.filter(pk=prober.pk).update(next_run_at=clock.now())  # woken all the same
        runner_run(prober.pk)
        assert runner.apply_outcome(claim, runner.perform(claim)) is not None

    attempts = StepAttempt.objects.filter(process_id=prober.pk, step="create_label").exclude(outcome="failed")
    assert list(attempts.values_list("worker", "outcome")) == [("w1", "succeeded")]  # nothing abandoned
    prober.refresh_from_db()
    assert prober.step == "pick" and Circuit.objects.get(step="create_label").state == CircuitState.CLOSED


def test_a_flagged_order_among_those_waiting_under_a_limit_never_takes_their_wake_up(catalogue):
    """An order that waited under the limit, then was flagged for a person (a dispute), waits
    on nothing any more: a call that ends wakes the order really waiting."""
    with clock.frozen():
        now = clock.now()
        flagged, waiting = place_order(), place_order(email="two@example.com")
        Order.objects.filter(pk=flagged.pk).update(
            step="create_label",
            held_since=now - timedelta(seconds=60),
            held_by=Hold.LIMIT,
            needs_attention=True,
            next_run_at=None,
        )
        Order.objects.filter(pk=waiting.pk).update(
            step="create_label", held_since=now, held_by=Hold.LIMIT, next_run_at=now + timedelta(seconds=5)
        )

        assert limits.wake_next_waiting(LABEL, ["create_label"], "")

    waiting.refresh_from_db()
    flagged.refresh_from_db()
    assert waiting.next_run_at <= now and flagged.next_run_at is None


def test_raising_attention_ends_a_wait(catalogue):
    from processes import attention

    order = place_order()
    Order.objects.filter(pk=order.pk).update(held_since=clock.now(), held_by=Hold.LIMIT, held_key="ACME")
    order.refresh_from_db()
    attention.raise_attention(order, "disputed by the customer", about_step=False)
    assert (order.held_since, order.held_by, order.held_key) == (None, "", "")
