"""Steps in the situations the Incidents page shows, reached by running real orders against the
simulators under a frozen clock (as the console's own scenarios do)."""

from datetime import timedelta

from fulfillment.models import Order
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import FaultRule
from fulfillment.simulators.picker import simulated_picker_run
from processes import clock, runner
from processes.models.flow import Circuit, CircuitState
from tests.factories import after_quiet_window, drive, place_order, run_due

LABEL = Order._meta.label_lower
OUTAGE = 10**6  # uses of a fault rule that stands for "the service is down"


def carrier_down() -> FaultRule:
    return fault_add(service="carrier", operation="create_label", mode="unavailable", times=OUTAGE)


def open_label_circuit(*, orders: int = 8) -> Circuit:
    """The carrier is down and stays down: create_label's circuit opens after a few orders
    fail there, and the orders that reach it afterwards wait (held) without spending attempts."""
    carrier_down()
    with clock.frozen(clock.now()):
        for _ in range(orders):
            run_due(place_order())  # charge, reserve, then the label fails or waits
    circuit = Circuit.objects.get(process_type=LABEL, step="create_label")
    assert circuit.state == CircuitState.OPEN, circuit
    return circuit


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
