"""Issue 20's "Done when", through the API on PostgreSQL: a client places an order, waits for it
to complete, asks for one line back and, doing nothing more, sees the return refunded. The
carrier's signed webhook brings the parcel and the warehouse accepts the line, as they would.

The simulators are the services: the payment simulator holds one partial refund of exactly the
line's amount against the order's own charge, the line's units are back on hand, and the
customer's mailbox holds one email about the return."""

import copy
import json
from decimal import Decimal

from rest_framework.test import APIClient

from fulfillment.api.webhooks import signature_make
from fulfillment.models import Order, Payment, Return
from fulfillment.proving.invariants import invariants_check
from fulfillment.returns.inspection import inspection_complete
from fulfillment.simulators.models import ChargeRecord, RefundRecord, SentMail
from processes import clock
from tests.api.conftest import ORDER_BODY, client_for, place
from tests.conftest import ENGINE_DB
from tests.factories import drive, payment_ledger
from tests.return_factories import INSPECTOR, accept_all, drive_return

pytestmark = ENGINE_DB

CARRIER_SECRET = "whsec_carrier_done_when"


def parcel_arrives(tracking_number: str):
    """The carrier's signed `parcel.received`, as its servers send it."""
    raw = json.dumps({"id": "evt_parcel_1", "type": "parcel.received", "tracking_number": tracking_number})
    header = signature_make(body=raw.encode(), secret=CARRIER_SECRET, timestamp=int(clock.now().timestamp()))
    return APIClient().post(
        "/api/webhooks/carrier/", raw, content_type="application/json", HTTP_X_SIGNATURE=header
    )


def test_a_client_returns_one_line_and_sees_it_refunded_with_nothing_more_to_do(catalogue, settings):
    settings.CARRIER_WEBHOOK_SECRET = CARRIER_SECRET
    shop = client_for("shop")
    with clock.frozen():
        placed = place(shop, copy.deepcopy(ORDER_BODY))
        assert placed.status_code == 201, placed.json()
        order = drive(Order.objects.get(pk=placed.json()["id"]))  # the workers and the picker
        seen = shop.get(f"/api/orders/{order.pk}/").json()
        assert seen["status"] == "completed"
        mug = next(line for line in seen["lines"] if line["sku"] == "MUG-001")
        mugs, tees = catalogue.stock(catalogue.mug), catalogue.stock(catalogue.tee)

        asked = shop.post(
            f"/api/orders/{order.pk}/returns/",
            {"reason": "Chipped on arrival", "lines": [{"line": mug["id"], "quantity": 1}]},
            format="json",
            HTTP_IDEMPOTENCY_KEY="return-1",
        )
        assert asked.status_code == 201, asked.json()
        ret = drive_return(Return.objects.get(pk=asked.json()["id"]), parcel=False, judge=None)
        tracking_number = ret.labels.get().tracking_number
        assert parcel_arrives(tracking_number).json() == {"status": "delivered"}
        ret = drive_return(ret, judge=None)
        inspection_complete(ret=ret, verdicts=accept_all(ret), actor=INSPECTOR)
        drive_return(ret)

        seen = shop.get(f"/api/returns/{ret.pk}/").json()

    assert seen["status"] == "completed" and seen["refunded"] == "12.50"
    assert [(line["sku"], line["quantity"], line["verdict"]) for line in seen["lines"]] == [
        ("MUG-001", 1, "accepted")
    ]
    charge = ChargeRecord.objects.get(charge_id=Payment.objects.get(order=order).charge_id)
    assert (charge.reference, charge.amount) == (str(order.pk), Decimal("49.00"))
    refund = RefundRecord.objects.get(charge__reference=str(order.pk))
    assert (refund.charge_id, refund.amount, refund.full) == (charge.pk, Decimal("12.50"), False)
    assert payment_ledger(order) == {
        "charged": Decimal("49.00"),
        "refunded": Decimal("12.50"),
        "charges": 1,
        "refunds": 1,
    }
    # The accepted mug is on hand again (the order's shipped units stay counted as reserved).
    mugs_now, tees_now = catalogue.stock(catalogue.mug), catalogue.stock(catalogue.tee)
    assert (mugs_now.on_hand, mugs_now.reserved) == (mugs.on_hand + 1, mugs.reserved)
    assert (tees_now.on_hand, tees_now.reserved) == (tees.on_hand, tees.reserved)
    to_customer = SentMail.objects.filter(recipients__contains=[order.email])
    about_the_return = [mail for mail in to_customer if mail.reference == str(ret.pk)]
    assert len(about_the_return) == 1 and about_the_return[0].duplicate_offers == 0
    assert "Refunded: 12.50 EUR" in about_the_return[0].body
    assert to_customer.count() == 2  # the order's confirmation, then the return's
    assert {
        name: ids for name, ids in invariants_check(orders=Order.objects.filter(pk=order.pk)).items() if ids
    } == {}
