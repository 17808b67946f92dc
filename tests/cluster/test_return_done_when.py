"""Issue 20's "Done when" with real workers: a `qcluster` runs the order and then its return,
while the test plays the client (the API), the carrier (its signed webhook) and the warehouse
(the pick, the inspection). The simulators' ledgers show what was really done."""

import copy
import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from fulfillment.api.clients import api_client_create
from fulfillment.api.webhooks import signature_make
from fulfillment.models import Order, Payment, Return
from fulfillment.proving.invariants import invariants_check
from fulfillment.returns.inspection import inspection_complete
from fulfillment.simulators.models import ChargeRecord, RefundRecord, SentMail
from processes import clock
from processes.models.process import RunStatus
from tests.api.conftest import ORDER_BODY
from tests.cluster.conftest import wait_for
from tests.conftest import ENGINE_DB
from tests.return_factories import INSPECTOR, accept_all

pytestmark = [pytest.mark.cluster, ENGINE_DB]

SECRET = "whsec_carrier_cluster"


def waits_at(ret: Return, step: str) -> bool:
    ret.refresh_from_db()
    return ret.step == step and ret.run_status == RunStatus.WAITING


def test_a_return_requested_through_the_api_is_refunded_by_real_workers(catalogue, start_cluster, settings):
    settings.CARRIER_WEBHOOK_SECRET = SECRET
    token, _ = api_client_create(name="shop")
    shop = APIClient()
    shop.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    start_cluster()

    placed = shop.post("/api/orders/", copy.deepcopy(ORDER_BODY), format="json", HTTP_IDEMPOTENCY_KEY="o-1")
    order = Order.objects.get(pk=placed.json()["id"])
    wait_for(lambda: shop.get(f"/api/orders/{order.pk}/").json()["status"] == "completed", what="the order")
    mug = order.lines.get(sku="MUG-001")
    mugs = catalogue.stock(catalogue.mug)

    asked = shop.post(
        f"/api/orders/{order.pk}/returns/",
        {"reason": "Chipped", "lines": [{"line": mug.pk, "quantity": 1}]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r-1",
    )
    assert asked.status_code == 201, asked.json()
    ret = Return.objects.get(pk=asked.json()["id"])
    wait_for(lambda: waits_at(ret, "await_parcel"), what="the return to wait for its parcel", pick=False)
    raw = json.dumps(
        {"id": "evt_1", "type": "parcel.received", "tracking_number": ret.labels.get().tracking_number}
    )
    header = signature_make(body=raw.encode(), secret=SECRET, timestamp=int(clock.now().timestamp()))
    delivered = APIClient().post(
        "/api/webhooks/carrier/", raw, content_type="application/json", HTTP_X_SIGNATURE=header
    )
    assert delivered.json() == {"status": "delivered"}
    wait_for(lambda: waits_at(ret, "inspect"), what="the inspection to open", pick=False)
    inspection_complete(ret=ret, verdicts=accept_all(ret), actor=INSPECTOR)
    wait_for(
        lambda: shop.get(f"/api/returns/{ret.pk}/").json()["status"] == "completed",
        what="the return to complete",
        pick=False,
    )

    assert shop.get(f"/api/returns/{ret.pk}/").json()["refunded"] == "12.50"
    charge = ChargeRecord.objects.get(charge_id=Payment.objects.get(order=order).charge_id)
    refund = RefundRecord.objects.get(charge__reference=str(order.pk))
    assert (refund.charge_id, refund.amount, refund.full) == (charge.pk, Decimal("12.50"), False)
    now = catalogue.stock(catalogue.mug)
    assert (now.on_hand, now.reserved) == (mugs.on_hand + 1, mugs.reserved)
    assert SentMail.objects.filter(reference=str(ret.pk)).count() == 1
    assert SentMail.objects.filter(recipients__contains=[order.email]).count() == 2
    assert {
        name: ids for name, ids in invariants_check(orders=Order.objects.filter(pk=order.pk)).items() if ids
    } == {}
