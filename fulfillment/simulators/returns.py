"""The demo's simulated carrier and inspector: they take a return from its label to its refund
with nobody at the warehouse, for `make run` and `place_demo_orders`.

The carrier "delivers" the parcel of a return waiting for it once its label is `delay` seconds
old, through the same service as the carrier's webhook and a worker's scan
(fulfillment.returns.parcels); the inspector accepts every line of an inspection open for
`delay` seconds, through the same service as the warehouse pages
(fulfillment.returns.inspection), as the account `simulated-inspector`, which cannot sign in.
Inspection tasks have no claims: a person who judges a return first simply wins, and the
inspector, told the return no longer waits for its inspection, goes on to the next.
"""

from datetime import timedelta

from django.contrib.auth import get_user_model

from fulfillment.errors import ReturnNotAllowed
from fulfillment.models import InspectionTask, Return, ReturnLabel, ReturnState
from fulfillment.returns.inspection import LineVerdict, inspection_complete
from fulfillment.returns.parcels import return_parcel_received
from processes import clock
from processes.journal import Actor
from processes.models.journal import ActorType

SIMULATED_INSPECTOR = "simulated-inspector"
CARRIER = Actor(ActorType.SYSTEM, "simulated-carrier")
BATCH = 200


def simulated_carrier_run(*, delay: float) -> int:
    """Deliver the parcel of every return waiting for it whose label is older than `delay`
    seconds; returns how many arrived. A return closed or cancelled meanwhile is skipped."""
    cutoff = clock.now() - timedelta(seconds=delay)
    due = (
        ReturnLabel.objects.filter(
            voided_at__isnull=True,
            received_at__isnull=True,
            created_at__lte=cutoff,
            ret__state=ReturnState.AWAITING_PARCEL,
        )
        .order_by("created_at")
        .values_list("tracking_number", flat=True)[:BATCH]
    )
    delivered = 0
    for tracking_number in list(due):
        try:
            return_parcel_received(tracking_number=tracking_number, actor=CARRIER)
        except ReturnNotAllowed:
            continue  # cancelled, closed at its deadline, or flagged for an operator meanwhile
        delivered += 1
    return delivered


def simulated_inspector_run(*, delay: float) -> int:
    """Accept every line of each inspection open for more than `delay` seconds; returns how
    many returns it inspected. One a person judged first is left as they judged it."""
    cutoff = clock.now() - timedelta(seconds=delay)
    due = (
        InspectionTask.objects.filter(status=InspectionTask.Status.OPEN, opened_at__lte=cutoff)
        .order_by("opened_at")
        .values_list("ret_id", flat=True)[:BATCH]
    )
    inspector = simulated_inspector_user()
    actor = Actor(ActorType.WORKER, inspector.get_username())
    inspected = 0
    for ret in Return.objects.filter(pk__in=list(due)).prefetch_related("lines"):
        verdicts = [LineVerdict(line.pk, True) for line in ret.lines.all()]
        try:
            inspection_complete(ret=ret, verdicts=verdicts, actor=actor, worker_id=inspector.pk)
        except ReturnNotAllowed:
            continue  # a worker inspected it first, or it waits for an operator
        inspected += 1
    return inspected


def simulated_inspector_user():
    """The account the simulated inspector judges returns as; it cannot sign in."""
    user, created = get_user_model().objects.get_or_create(username=SIMULATED_INSPECTOR)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
