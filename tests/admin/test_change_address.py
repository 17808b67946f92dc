"""The order page's "Change address": a form filled with the current address, checked by the
API's rules, one order at a time, with its own permission; it fixes an address the carrier
refused and retries the label in one go."""

from django.urls import reverse

from fulfillment.models import Order, OrderState
from fulfillment.simulators.carrier import UNDELIVERABLE_POSTCODE, labels
from processes import clock
from processes.models.journal import ProcessEvent
from tests.admin.conftest import awaiting_pick, make_user
from tests.conftest import ENGINE_DB
from tests.factories import ADDRESS, drive, place_order

pytestmark = ENGINE_DB
URL = reverse("admin:fulfillment_order_operator", args=["change_address"])
NEW = {**ADDRESS, "line1": "3 New Street", "postal_code": "N2 8BB"}


def post(client, orders, **fields):
    data = {"ids": [str(o.pk) for o in orders], "confirm": "yes", "reason": "customer moved", **NEW, **fields}
    return client.post(URL, data, follow=True)


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def test_the_form_shows_the_current_address_and_the_page_offers_it(ops_client, catalogue):
    order = awaiting_pick()
    page = ops_client.get(reverse("admin:fulfillment_order_change", args=[order.pk]))
    assert f"{URL}?ids={order.pk}".encode() in page.content
    form = ops_client.get(URL, {"ids": str(order.pk)})
    assert form.status_code == 200
    assert b'value="12 Analytical Row"' in form.content and b'name="postal_code"' in form.content


def test_changing_after_the_label_makes_it_again(ops_client, catalogue):
    order = awaiting_pick()
    response = post(ops_client, [order])
    assert any("address changed, its label is made again" in m for m in messages_of(response))
    with clock.frozen(clock.now()):
        order = drive(order, pick=False)
    assert order.state == OrderState.AWAITING_PICK and order.shipping_address["line1"] == "3 New Street"
    assert labels(str(order.pk)) == {"live": 1, "voided": 1}
    event = ProcessEvent.objects.get(process_id=order.pk, transition="change_address")
    assert event.actor == "olga" and "12 Analytical Row" in event.reason and "3 New Street" in event.reason


def test_fix_and_retry_an_address_the_carrier_refused(ops_client, catalogue):
    order = place_order()
    Order.objects.filter(pk=order.pk).update(
        shipping_address={**ADDRESS, "postal_code": UNDELIVERABLE_POSTCODE}
    )
    with clock.frozen(clock.now()):
        order = drive(order)
    assert order.needs_attention and order.step == "create_label"
    page = ops_client.get(reverse("admin:fulfillment_order_change", args=[order.pk]))
    assert b"Change address" in page.content
    post(ops_client, [order])
    with clock.frozen(clock.now()):
        order = drive(order, pick=False)
    assert order.state == OrderState.AWAITING_PICK and not order.needs_attention
    assert labels(str(order.pk)) == {"live": 1, "voided": 0}


def test_an_invalid_address_is_refused_beside_its_field_and_changes_nothing(ops_client, catalogue):
    order = awaiting_pick()
    response = post(ops_client, [order], country="XX", postal_code="")
    assert response.status_code == 200 and response.context["form"].errors.keys() >= {
        "country",
        "postal_code",
    }
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS and order.direction == "forward"


def test_refused_once_picked_with_the_reason(ops_client, catalogue):
    order = awaiting_pick()
    from fulfillment.simulators.picker import simulated_picker_run

    with clock.frozen(clock.now()):
        simulated_picker_run(delay=0)
    response = post(ops_client, [order])
    assert any("its items have been picked" in m for m in messages_of(response))
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS


def test_one_order_at_a_time(ops_client, catalogue):
    first, second = awaiting_pick(), awaiting_pick()
    response = post(ops_client, [first, second])
    assert b"one order at a time" in response.content
    assert Order.objects.filter(shipping_address=ADDRESS).count() == 2


def test_without_the_permission_it_is_refused(client, catalogue):
    order = awaiting_pick()
    client.force_login(make_user("sam", "Support"))
    response = post(client, [order])
    assert response.status_code == 403
    page = client.get(reverse("admin:fulfillment_order_change", args=[order.pk]))
    assert URL.encode() not in page.content
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS
