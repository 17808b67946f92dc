"""The order page: the journal's timeline, what each step left behind, and the ledger
cross-check that flags in red what the external services hold and we did not record."""

import pytest
from django.urls import reverse

from fulfillment.monitoring import order_ledger_check, order_timeline
from fulfillment.simulators.payment import PaymentGatewaySimulator
from fulfillment.steps import CreateLabel, WaitForPick
from processes import clock
from tests.admin.conftest import SCENARIOS
from tests.admin.test_actions import REASON, act
from tests.conftest import ENGINE_DB
from tests.factories import drive

# Times in sentences are read in the morning (tests/conftest.py `morning`).
pytestmark = [ENGINE_DB, pytest.mark.usefixtures("morning")]


def order_page(client, order):
    response = client.get(reverse("admin:fulfillment_order_change", args=[order.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_timeline_shows_transitions_attempts_actors_errors_and_durations(ops_client, catalogue):
    """Transitions and attempts come in time order, with who did it, why, the error and the time."""
    order = SCENARIOS["attention_confirmation"]()
    act(ops_client, "retry", [order])

    entries = order_timeline(order)
    kinds = [e.kind for e in entries]
    assert kinds[0] == "transition" and entries[0].title == "∅ → received"
    assert [e.at for e in entries] == sorted(e.at for e in entries)
    failed = [e for e in entries if e.kind == "attempt" and e.outcome == "failed"]
    assert len(failed) == 8 and all("ServiceUnavailable" in e.error for e in failed)
    assert all(e.duration_ms is not None for e in entries if e.kind == "attempt" and e.outcome != "running")
    operator_note = next(e for e in entries if e.kind == "operator")
    assert operator_note.actor == "Operator olga" and REASON in operator_note.reason

    page = order_page(ops_client, order)
    assert "received → payment_charged" in page and "charge_payment done" in page
    assert "send_confirmation attempt 8" in page and "ServiceUnavailable: mail.send" in page
    assert "Operator olga" in page and REASON in page and " ms<" in page


def test_page_shows_payment_reservations_shipment_and_pick_task(ops_client, catalogue):
    order = SCENARIOS["awaiting_pick"]()

    page = order_page(ops_client, order)

    assert order.payment.charge_id in page
    assert order.shipments.get().tracking_number in page
    assert "MUG-001" in page and "TEE-042" in page  # reservations (and lines)
    assert "Pick task" in page and "Open" in page
    assert 'id="ledger-check"' in page and "console-disagree" not in page


def test_attention_banner_and_allowed_buttons(ops_client, catalogue):
    """A flagged order says why at the top; actions its state refuses are shown greyed out."""
    order = SCENARIOS["attention_confirmation"]()

    page = order_page(ops_client, order)

    since = f"{order.attention_since:%H:%M:%S} UTC"
    assert f"Needs attention since {since}: send_confirmation gave up after 8 attempts" in page
    assert "Nothing happens until an operator acts." in page
    assert f"operator/retry/?ids={order.pk}" in page
    assert f"operator/resolve/?ids={order.pk}" in page
    assert 'title="Not now: it is picked, finished or compensating">Cancel<' in page


def test_ledger_agrees_for_a_compensated_order(ops_client, catalogue):
    """After a refund both sides say charged and refunded the same amounts."""
    order = SCENARIOS["awaiting_pick"]()
    act(ops_client, "compensate", [order])
    with clock.frozen():
        order = drive(order)

    check = order_ledger_check(order)

    assert check.agrees and check.ours_refunded == check.gateway_refunded == order.total


def test_ledger_disagreement_is_flagged_in_red(ops_client, catalogue):
    """A real charge at the gateway that we never recorded makes the cross-check disagree, in red."""
    order = SCENARIOS["awaiting_pick"]()
    PaymentGatewaySimulator().charge(
        amount=order.total,
        currency=order.currency,
        token="tok_ok",
        reference=str(order.pk),
        idempotency_key=f"someone-else:{order.pk}",
    )

    check = order_ledger_check(order)
    page = order_page(ops_client, order)

    assert not check.payment_agrees and check.labels_agree
    assert check.gateway_charged == 2 * order.total and check.ours_charged == order.total
    assert "console-ledger console-disagree" in page
    assert "The external ledgers disagree with our records" in page
    assert 'class="console-mismatch"' in page and "✗ disagree" in page


def charge_behind_our_back(order):
    PaymentGatewaySimulator().charge(
        amount=order.total,
        currency=order.currency,
        token="tok_ok",
        reference=str(order.pk),
        idempotency_key=f"someone-else:{order.pk}",
    )


def test_a_step_says_itself_whether_a_lost_answer_may_explain_a_disagreement(catalogue, monkeypatch):
    """The note that an in-flight attempt may explain the difference follows the order's step
    (Step.reconciled), not a list of step names: the label step says so until it stops saying it,
    and a step that starts saying it gets the note."""
    at_label, at_pick = SCENARIOS["backing_off_label"](), SCENARIOS["awaiting_pick"]()
    charge_behind_our_back(at_label)
    charge_behind_our_back(at_pick)

    assert "The order is at create_label" in " ".join(order_ledger_check(at_label).notes)
    assert order_ledger_check(at_pick).notes == []
    monkeypatch.setattr(CreateLabel, "reconciled", False)
    monkeypatch.setattr(WaitForPick, "reconciled", True)
    assert order_ledger_check(at_label).notes == []
    assert "The order is at pick" in " ".join(order_ledger_check(at_pick).notes)


class GatewayWithoutLedger(PaymentGatewaySimulator):
    """A payment gateway that cannot read its records back, as many real clients are: the
    simulator's charges, minus `ledger_for`."""

    ledger_for = None  # getattr finds None: no reading back


def test_the_ledger_check_is_unavailable_when_a_gateway_cannot_read_its_records_back(
    ops_client, catalogue, settings
):
    """The order page asks the gateway through the optional ReadsPaymentLedger interface, never
    by recognising the simulators' settings path."""
    order = SCENARIOS["awaiting_pick"]()
    settings.PAYMENT_GATEWAY = f"{__name__}.GatewayWithoutLedger"

    assert order_ledger_check(order).available is False
    assert order_page(ops_client, order)  # the page still renders, without the cross-check
