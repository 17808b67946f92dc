"""Steps in the situations the Incidents page shows, reached by running real orders against the
simulators under a frozen clock (as the console's own scenarios do)."""

from collections.abc import Callable
from datetime import timedelta

from fulfillment.models import Order
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import FaultRule
from fulfillment.simulators.picker import simulated_picker_run
from fulfillment.steps import SERVICE_CIRCUIT
from processes import clock, runner
from processes.models.flow import Circuit, CircuitState
from tests.factories import after_quiet_window, drive, place_order, run_due

LABEL = Order._meta.label_lower
OUTAGE = 10**6  # uses of a fault rule that stands for "the service is down"
# The orders open_circuit runs into a dead service before its circuit opens: one failed call
# each, and the circuit policy asks for its latest `stop_run` calls failed in a row.
OPENED_BY = SERVICE_CIRCUIT.stop_run


def carrier_down() -> FaultRule:
    return fault_add(service="carrier", operation="create_label", mode="unavailable", times=OUTAGE)


def open_circuit(step: str, *, then: int = 0, place: Callable[[], Order] = place_order) -> Circuit:
    """Its service is down: orders reach `step` one after the other under a frozen clock and
    fail there once each (their backoffs never end) until the failed calls are evidence of an
    outage, the latest `stop_run` in a row from as many orders (OPENED_BY), and its circuit
    opens. The order whose failure opened it is held, and so are the `then` orders placed
    afterwards: they reach the step and wait without spending attempts. `place` places one
    order (through the client API, say)."""
    open_at_most = SERVICE_CIRCUIT.window_attempts
    with clock.frozen(clock.now()):
        failed, circuit = 0, None
        while circuit is None:
            assert failed < open_at_most, f"{step}'s circuit did not open after {failed} orders failed there"
            run_due(place())
            failed += 1
            circuit = Circuit.objects.filter(process_type=LABEL, step=step, state=CircuitState.OPEN).first()
        assert failed == OPENED_BY, f"{step}'s circuit opened after {failed} failed calls"
        for _ in range(then):
            run_due(place())
    circuit.refresh_from_db()
    return circuit


def open_label_circuit(*, then: int = 0) -> Circuit:
    """The carrier is down and stays down: create_label's circuit opens after OPENED_BY orders
    failed there, holding the last of them and the `then` orders that reach it afterwards."""
    carrier_down()
    return open_circuit("create_label", then=then)


def attention_at_confirmation(count: int = 2) -> list[Order]:
    """Orders that used up send_confirmation's retries one after the other (too few at once to
    open its circuit): each needs attention at that step, which a redrive retries."""
    flagged = []
    for _ in range(count):
        fault_add(service="mail", operation="send", mode="unavailable", times=8)
        with clock.frozen(after_quiet_window()):
            flagged.append(drive(place_order()))
    assert all(order.needs_attention and order.step == "send_confirmation" for order in flagged)
    return flagged


def run_all_due(limit: int = 10_000) -> int:
    """One pass of a tireless worker: every order that is due now, earliest first."""
    due = Order.objects.filter(next_run_at__lte=clock.now()).order_by("next_run_at")
    ran = 0
    for pk in list(due.values_list("pk", flat=True)[:limit]):
        ran += runner_run(pk)
    simulated_picker_run(delay=0)
    return ran


def runner_run(pk) -> int:
    return runner.run_process(LABEL, pk)


def advance_to_next_due(cap: timedelta) -> None:
    upcoming = Order.objects.filter(next_run_at__isnull=False).order_by("next_run_at").first()
    step = cap if upcoming is None else min(max(upcoming.next_run_at - clock.now(), timedelta(0)), cap)
    clock.advance(step + timedelta(milliseconds=1))


def run_until_at_rest(*, limit: timedelta, cap: timedelta = timedelta(seconds=1)) -> None:
    """Under a frozen clock: run everything due, jump to the next due time (at most `cap`
    ahead), until every order is at rest; fail if that takes longer than `limit`."""
    start = clock.now()
    while Order.objects.exclude(run_status="finished").exists():
        assert clock.now() - start < limit, "the orders never came to rest"
        run_all_due()
        advance_to_next_due(cap=cap)
