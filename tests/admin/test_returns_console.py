"""Returns in the console beside orders: the list (state, order, amount, refunded, why it
waits), its search and filters, the return page (lines and verdicts, labels, refund, the ledger
cross-check, the journal), the dashboard's figures and the Incidents page's return steps."""

from html import unescape

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fulfillment.models import ReturnRefund
from fulfillment.returns.inspection import LineVerdict
from fulfillment.simulators.faults import fault_add
from processes import clock
from processes.models.flow import Circuit, CircuitState
from processes.models.process import Hold
from tests.circuit_scenarios import OUTAGE
from tests.conftest import ENGINE_DB
from tests.return_factories import completed_order, drive_return, request_return, run_due_return

pytestmark = ENGINE_DB
LIST = "admin:fulfillment_return_changelist"


def judge_mug_only(ret):
    return [
        LineVerdict(
            line.pk, line.order_line.sku == "MUG-001", "" if line.order_line.sku == "MUG-001" else "Worn"
        )
        for line in ret.lines.all()
    ]


def test_the_list_shows_state_order_amount_refunded_and_why_it_waits(ops_client, catalogue):
    with clock.frozen():
        order = completed_order(email="grace@example.com")
        done = drive_return(request_return(order, ("MUG-001", 1)))
        waiting = drive_return(request_return(order, ("TEE-042", 1)), parcel=False)

    page = ops_client.get(reverse(LIST)).content.decode()

    assert str(done.pk)[:8] in page and str(waiting.pk)[:8] in page
    assert reverse("admin:fulfillment_order_change", args=[order.pk]) in page
    assert "Completed" in page and "Waiting for the parcel" in page
    assert "12.50" in page and "24.00" in page
    assert "console-waiting console-waiting-person" in page  # the engine's sentence, as for orders


def test_search_by_order_id_return_id_or_email_and_the_filters(ops_client, catalogue):
    with clock.frozen():
        ada = completed_order(email="ada@example.com")
        grace = completed_order(email="grace@example.com")
        ada_ret = drive_return(request_return(ada, ("MUG-001", 1)))
        grace_ret = drive_return(request_return(grace, ("MUG-001", 1)), parcel=False)

    def found(**params):
        response = ops_client.get(reverse(LIST), params)
        assert response.status_code == 200
        rows = response.context["cl"].result_list
        return {r.pk for r in rows}

    assert found(q=str(ada.pk)[:8]) == {ada_ret.pk}
    assert found(q=str(grace_ret.pk)) == {grace_ret.pk}
    assert found(q="GRACE@example.com") == {grace_ret.pk}
    assert found(q="grac") == {grace_ret.pk}
    assert found(state__exact="completed") == {ada_ret.pk}
    assert found(step="await_parcel") == {grace_ret.pk}
    assert found(stuck="yes") == set()
    assert found(needs_attention__exact=0) == {ada_ret.pk, grace_ret.pk}


def test_the_return_page_shows_lines_verdicts_labels_refund_ledger_and_journal(ops_client, catalogue):
    with clock.frozen():
        order = completed_order()
        ret = drive_return(request_return(order, ("MUG-001", 1), ("TEE-042", 1)), judge=judge_mug_only)

    page = unescape(
        ops_client.get(reverse("admin:fulfillment_return_change", args=[ret.pk])).content.decode()
    )

    assert "Lines and verdicts" in page and "Accepted" in page and "Rejected" in page and "Worn" in page
    label = ret.labels.get()
    assert label.tracking_number in page
    assert ReturnRefund.objects.get(ret=ret).refund_id in page
    assert 'id="ledger-check"' in page and "console-disagree" not in page
    assert "Of the order's refunds, this return's: 12.50 EUR" in page
    assert 'id="timeline"' in page and "inspecting → inspected" in page and "refund_return" in page
    assert 'id="return-waiting"' not in page  # finished: nothing to wait for


def test_a_gateway_refund_we_never_recorded_makes_the_return_pages_ledger_disagree(ops_client, catalogue):
    with clock.frozen():
        order = completed_order()
        ret = drive_return(request_return(order, ("MUG-001", 1)))
    ReturnRefund.objects.filter(ret=ret).update(amount=0, refund_id="")

    page = ops_client.get(reverse("admin:fulfillment_return_change", args=[ret.pk])).content.decode()

    assert "console-ledger console-disagree" in page and "✗ disagree" in page
    assert "The external ledgers disagree with our records" in page


def test_a_return_waiting_for_approval_says_so_on_its_page(ops_client, catalogue, settings):
    settings.RETURN_APPROVAL_THRESHOLD = 10
    with clock.frozen():
        ret = drive_return(request_return(completed_order(), ("MUG-001", 1)))
        clock.advance(90)
        page = ops_client.get(reverse("admin:fulfillment_return_change", args=[ret.pk])).content.decode()

    sentence = unescape(page.split('id="return-waiting">')[1].split("</p>")[0]).strip()
    assert sentence.startswith(
        "Waiting for an operator to approve or refuse it (worth more than the approval rule allows): the"
        " task is unclaimed for 90 s; it must be done by"
    ), sentence


def test_the_dashboard_counts_returns_by_state_and_those_needing_attention(ops_client, catalogue):
    with clock.frozen():
        order = completed_order()
        drive_return(request_return(order, ("MUG-001", 1)))
        fault_add(service="payment", operation="refund", mode="unavailable", times=8, reference=str(order.pk))
        flagged = drive_return(request_return(order, ("TEE-042", 1)))
    assert flagged.needs_attention

    response = ops_client.get(reverse("admin:fulfillment_order_dashboard"))

    returns = response.context["returns"]
    counts = {row["label"]: row["count"] for row in returns["states"]}
    assert counts["Completed"] == 1 and counts["Inspected"] == 1
    assert (returns["figures"].needs_attention, returns["figures"].stuck) == (1, 1)
    page = response.content.decode()
    assert 'id="card-return-attention"' in page and "1</span><span>return needs attention" in page
    assert f"{reverse(LIST)}?needs_attention__exact=1" in page


def test_returns_held_by_the_carriers_circuit_appear_on_the_incidents_page(ops_client, catalogue):
    """The carrier down: the return label step's circuit opens (its own, with the carrier's
    policy), later returns wait at it without spending attempts, and the Incidents page lists
    the step with the returns it holds, each linked to its page."""
    with clock.frozen():
        order = completed_order(lines=(("MUG-001", 12),))
        fault_add(service="carrier", operation="create_label", mode="unavailable", times=OUTAGE)
        for _ in range(12):
            run_due_return(request_return(order, ("MUG-001", 1)))
    circuit = Circuit.objects.get(process_type="fulfillment.return", step="create_return_label")
    assert circuit.state == CircuitState.OPEN
    held = list(order.returns.filter(held_by=Hold.CIRCUIT))
    assert held

    listing = ops_client.get(reverse("admin:processes_circuit_changelist")).content.decode()
    step_page = reverse("admin:processes_circuit_step", args=["fulfillment.return", "create_return_label"])
    assert step_page in listing and "create_return_label" in listing
    page = ops_client.get(step_page)
    assert page.context["row"].held == len(held) and page.context["row"].noun == "returns"
    text = page.content.decode()
    for ret in held[:10]:
        assert reverse("admin:fulfillment_return_change", args=[ret.pk]) in text
    ret_page = ops_client.get(reverse("admin:fulfillment_return_change", args=[held[0].pk])).content.decode()
    assert f'href="{step_page}' in ret_page


def test_the_list_costs_the_same_queries_for_a_page_of_2_or_20_returns(ops_client, catalogue):
    """Its rows come with their order and refund, and the circuits holding any of them in one
    query: a page's cost does not grow with its rows."""
    with clock.frozen():
        order = completed_order(lines=(("MUG-001", 20),))
        for _ in range(2):
            request_return(order, ("MUG-001", 1))
    counted = []
    for more in (0, 18):
        for _ in range(more):
            request_return(order, ("MUG-001", 1))
        with CaptureQueriesContext(connection) as queries:
            page = ops_client.get(reverse(LIST))
        assert page.status_code == 200 and len(page.context["cl"].result_list) == 2 + more
        counted.append(len(queries))
    assert counted[0] == counted[1], counted
