"""Returns for tests: a completed order to return from, and a driver that runs a return to rest
under a frozen clock, delivering its parcel and judging its lines as a worker would."""

from datetime import timedelta

from fulfillment.models import Order, Return
from fulfillment.returns.inspection import LineVerdict, inspection_complete
from fulfillment.returns.parcels import return_parcel_received
from fulfillment.returns.requests import ReturnLineRequest, return_request
from processes import clock, runner
from processes.journal import Actor
from processes.models.journal import ActorType
from processes.models.process import RunStatus
from tests.factories import drive, place_order

CLIENT = Actor("client", "test")
CARRIER = Actor(ActorType.SYSTEM, "carrier-webhook")
INSPECTOR = Actor(ActorType.WORKER, "inspector")


def completed_order(**kwargs) -> Order:
    order = drive(place_order(**kwargs))
    assert order.state == "completed", order.state
    return order


def request_return(order: Order, *units: tuple[str, int], reason: str = "Does not fit") -> Return:
    """A return of `units` (sku, quantity) of the order's lines, as its client asks for it."""
    lines = {line.sku: line.pk for line in order.lines.all()}
    wanted = [ReturnLineRequest(lines[sku], quantity) for sku, quantity in units]
    return return_request(order=order, lines=wanted, reason=reason, actor=CLIENT)


def accept_all(ret: Return) -> list[LineVerdict]:
    return [LineVerdict(line.pk, True) for line in ret.lines.all()]


def run_due_return(ret: Return) -> int:
    return runner.run_process(Return._meta.label_lower, ret.pk)


def drive_return(ret: Return, *, parcel: bool = True, judge=accept_all, max_rounds: int = 200) -> Return:
    """Run the return to rest: jump to each due time; when it waits, deliver the parcel and
    then the inspection (`judge` gives the verdicts); stop when it finishes, needs attention,
    or waits for what we were told not to deliver (parcel=False, judge=None, an approval)."""
    for _ in range(max_rounds):
        ret.refresh_from_db()
        if ret.run_status == RunStatus.FINISHED or ret.needs_attention:
            return ret
        if ret.run_status == RunStatus.WAITING:
            if ret.step == "await_parcel" and parcel:
                label = ret.labels.get(voided_at__isnull=True)
                return_parcel_received(tracking_number=label.tracking_number, actor=CARRIER)
                continue
            if ret.step == "inspect" and judge is not None:
                inspection_complete(ret=ret, verdicts=judge(ret), actor=INSPECTOR)
                continue
            if ret.next_run_at is None or ret.next_run_at > clock.now():
                return ret  # waiting for a person or its deadline: the test moves the clock
        if ret.next_run_at and ret.next_run_at > clock.now():
            clock.advance(ret.next_run_at - clock.now() + timedelta(milliseconds=1))
        run_due_return(ret)
    raise AssertionError(f"return {ret.pk} did not come to rest: {ret.state} {ret.step}")
