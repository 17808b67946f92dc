"""An operator requests a return from the order's page: the form goes through the same service
as the API, shows the service's errors in its words and changes nothing when it refuses, and a
request it accepts runs to a refund like a customer's."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import reverse

from fulfillment.admin.return_request import return_request_view
from fulfillment.models import Notification, Return, ReturnState
from fulfillment.simulators.models import SentMail
from processes import clock
from processes.models.journal import ProcessEvent
from tests.admin.conftest import SCENARIOS
from tests.conftest import ENGINE_DB
from tests.factories import payment_ledger
from tests.return_factories import completed_order, drive_return, request_return

pytestmark = ENGINE_DB


def request_url(order):
    return reverse("admin:fulfillment_order_request_return", args=[order.pk])


def form_data(order, reason="Arrived chipped", **units):
    """The form's fields: `units` by SKU (MUG_001=1), every other line 0."""
    data = {"reason": reason}
    for line in order.lines.all():
        data[f"line_{line.pk}"] = units.get(line.sku.replace("-", "_"), 0)
    return data


def test_an_operator_requests_a_return_from_the_orders_page_and_it_ends_refunded(ops_client, catalogue):
    """The "Done when" of issue 20, by an operator: one mug back through the order's page; the
    return runs to its end: the gateway holds a refund of exactly 12.50 against the order's
    charge, the mug is back on hand, and the customer got one email."""
    with clock.frozen():
        order = completed_order()
        on_hand = catalogue.stock(catalogue.mug).on_hand
        page = ops_client.get(reverse("admin:fulfillment_order_change", args=[order.pk])).content.decode()
        assert f'href="{request_url(order)}"' in page and 'id="request-return"' in page

        response = ops_client.post(request_url(order), form_data(order, MUG_001=1), follow=True)

        ret = Return.objects.get(order=order)
        assert response.redirect_chain[-1][0] == reverse("admin:fulfillment_return_change", args=[ret.pk])
        [message] = [str(m) for m in response.context["messages"]]
        assert message == (
            f"Return {str(ret.pk)[:8]} requested for order {str(order.pk)[:8]}: 1 × MUG-001, worth 12.50 EUR;"
            " approve is next."
        )
        created = ProcessEvent.objects.get(process_id=ret.pk, transition="create")
        assert (created.actor_type, created.actor) == ("operator", "olga")
        ret = drive_return(ret)

    assert ret.state == ReturnState.COMPLETED and ret.reason == "Arrived chipped"
    assert payment_ledger(order) == {
        "charged": Decimal("49.00"),
        "refunded": Decimal("12.50"),
        "charges": 1,
        "refunds": 1,
    }
    assert catalogue.stock(catalogue.mug).on_hand == on_hand + 1
    assert Notification.objects.filter(order=order, kind="return_confirmation").count() == 1
    assert SentMail.objects.filter(message_id__contains=f"return-{ret.pk}").count() == 1
    page = ops_client.get(reverse("admin:fulfillment_order_change", args=[order.pk])).content.decode()
    assert 'id="order-returns"' in page and "Completed" in page and "12.50 EUR" in page


@pytest.mark.parametrize(
    "case,expected",
    [
        (
            "too_many",
            "Line {mug} (MUG-001): 3 to return, but only 2 of the 2 shipped are not already returned.",
        ),
        ("nothing", "A return needs at least one line."),
        ("already_returned", "Line {mug} (MUG-001): 1 to return, but only 0 of the 2 shipped"),
        ("outside_window", "could be returned until"),
    ],
)
def test_a_request_the_service_refuses_shows_its_words_and_changes_nothing(
    ops_client, catalogue, case, expected
):
    with clock.frozen():
        order = completed_order()
        units = {"MUG_001": 3} if case == "too_many" else {"MUG_001": 1}
        if case == "nothing":
            units = {}
        if case == "already_returned":
            request_return(order, ("MUG-001", 2))
        before = Return.objects.count()
        if case == "outside_window":
            clock.advance(timedelta(days=31))

        response = ops_client.post(request_url(order), form_data(order, **units))

    mug = order.lines.get(sku="MUG-001").pk
    assert response.status_code == 400
    page = response.content.decode()
    assert 'class="errornote"' in page and expected.format(mug=mug) in page
    assert Return.objects.count() == before


def test_a_negative_quantity_or_no_reason_is_a_form_error(ops_client, catalogue):
    with clock.frozen():
        order = completed_order()
        response = ops_client.post(request_url(order), form_data(order, reason="", MUG_001=-1))

    page = response.content.decode()
    assert response.status_code == 400
    assert "Ensure this value is greater than or equal to 0." in page and "This field is required." in page
    assert not Return.objects.exists()


def test_an_order_not_completed_offers_no_return_and_a_crafted_request_is_refused(ops_client, catalogue):
    order = SCENARIOS["awaiting_pick"]()
    page = ops_client.get(reverse("admin:fulfillment_order_change", args=[order.pk])).content.decode()
    assert 'id="request-return"' not in page
    assert "only a completed order can be returned" in page

    response = ops_client.post(request_url(order), form_data(order, MUG_001=1))

    assert response.status_code == 400
    assert "only a completed order can be returned." in response.content.decode()
    assert not Return.objects.exists()


def test_support_may_not_request_a_return_and_is_told_which_permission(support, catalogue):
    with clock.frozen():
        order = completed_order()
    request = RequestFactory().post(request_url(order), form_data(order, MUG_001=1))
    request.user = support

    with pytest.raises(PermissionDenied) as refused:
        return_request_view(None, request, str(order.pk))

    assert str(refused.value) == (
        "You may not request returns: your account does not have the permission “Can request a return"
        " for a customer”. Ask an administrator."
    )
    assert not Return.objects.exists()


def test_an_unknown_order_answers_404(ops_client, db):
    assert ops_client.get("/admin/fulfillment/order/not-a-uuid/request-return/").status_code == 404
    missing = "/admin/fulfillment/order/00000000-0000-0000-0000-000000000000/request-return/"
    assert ops_client.get(missing).status_code == 404
