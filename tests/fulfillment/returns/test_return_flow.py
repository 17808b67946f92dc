"""A return runs on the same engine as orders: approved, labelled, received, inspected,
refunded once for exactly its accepted lines, restocked once, confirmed by one email."""

from decimal import Decimal

from fulfillment.models import Notification, ReturnLine, ReturnState
from fulfillment.monitoring import order_ledger_check
from fulfillment.returns.inspection import LineVerdict
from fulfillment.simulators.carrier import labels
from fulfillment.simulators.models import SentMail
from processes import clock
from processes.models.journal import ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from tests.conftest import ENGINE_DB
from tests.factories import payment_ledger
from tests.return_factories import completed_order, drive_return, request_return

pytestmark = ENGINE_DB


def test_a_return_of_one_line_is_refunded_restocked_and_confirmed(catalogue):
    """Returning one mug of the order refunds 12.50 against its charge, puts one mug back on
    hand, and sends one confirmation; the order's other lines are untouched."""
    with clock.frozen():
        order = completed_order()
        on_hand = catalogue.stock(catalogue.mug).on_hand
        ret = drive_return(request_return(order, ("MUG-001", 1)))

    assert ret.state == ReturnState.COMPLETED and ret.run_status == RunStatus.FINISHED
    assert ret.approved_by == "approval rule"
    assert payment_ledger(order) == {
        "charged": Decimal("49.00"),
        "refunded": Decimal("12.50"),
        "charges": 1,
        "refunds": 1,
    }
    assert ret.refund.amount == Decimal("12.50")
    assert catalogue.stock(catalogue.mug).on_hand == on_hand + 1
    assert catalogue.stock(catalogue.tee).on_hand == 100
    assert labels(str(ret.pk)) == {"live": 1, "voided": 0}
    assert Notification.objects.filter(order=order, kind="return_confirmation").count() == 1
    mail = SentMail.objects.get(message_id__contains=f"return-{ret.pk}")
    assert "Refunded: 12.50 EUR" in mail.body


def test_rejected_lines_are_neither_refunded_nor_restocked(catalogue):
    """Of a mug and a tee, the inspection accepts the mug and rejects the worn tee: 12.50 back,
    one mug on hand again, the tee's stock unchanged, and the email says why."""

    def judge(ret):
        return [
            LineVerdict(
                line.pk, line.order_line.sku == "MUG-001", "" if line.order_line.sku == "MUG-001" else "Worn"
            )
            for line in ret.lines.all()
        ]

    with clock.frozen():
        order = completed_order()
        ret = drive_return(request_return(order, ("MUG-001", 1), ("TEE-042", 1)), judge=judge)

    assert ret.state == ReturnState.COMPLETED
    assert ret.amount == Decimal("36.50") and ret.refund.amount == Decimal("12.50")
    assert payment_ledger(order)["refunded"] == Decimal("12.50")
    assert catalogue.stock(catalogue.mug).on_hand == 101
    assert catalogue.stock(catalogue.tee).on_hand == 100
    tee = ret.lines.get(order_line__sku="TEE-042")
    assert (tee.verdict, tee.reject_reason) == (ReturnLine.Verdict.REJECTED, "Worn")
    assert "not accepted: Worn" in SentMail.objects.get(message_id__contains=f"return-{ret.pk}").body


def test_nothing_accepted_refunds_nothing_and_asks_the_gateway_nothing(catalogue):
    with clock.frozen():
        order = completed_order()
        ret = drive_return(
            request_return(order, ("MUG-001", 2)),
            judge=lambda ret: [
                LineVerdict(line.pk, False, "Broken by the customer") for line in ret.lines.all()
            ],
        )

    assert ret.state == ReturnState.COMPLETED
    assert ret.refund.amount == 0 and ret.refund.refund_id == ""
    assert payment_ledger(order)["refunds"] == 0
    assert catalogue.stock(catalogue.mug).on_hand == 100


def test_the_journal_tells_the_return_in_order(catalogue):
    """Every transition of the return is journalled under its own process type."""
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("TEE-042", 1)))

    events = ProcessEvent.objects.filter(process_id=ret.pk, kind="transition")
    assert [e.to_state for e in events] == [
        "requested",
        "approved",
        "label_created",
        "awaiting_parcel",
        "parcel_received",
        "inspecting",
        "inspected",
        "refunded",
        "restocked",
        "completed",
    ]
    assert {e.process_type for e in events} == {"fulfillment.return"}
    steps = set(StepAttempt.objects.filter(process_id=ret.pk).values_list("step", flat=True))
    assert steps == {
        "approve",
        "create_return_label",
        "await_parcel",
        "inspect",
        "refund_return",
        "restock_return",
        "send_return_confirmation",
    }


def test_the_order_pages_ledger_cross_check_counts_its_returns_refunds(catalogue):
    """The admin's cross-check of a returned order agrees with the gateway: 12.50 refunded."""
    with clock.frozen():
        order = completed_order()
        drive_return(request_return(order, ("MUG-001", 1)))

    check = order_ledger_check(order)
    assert (check.ours_refunded, check.gateway_refunded) == (Decimal("12.50"), Decimal("12.50"))
    assert check.agrees
