"""Payment webhooks: signed like Stripe's, delivered once to the order, kept, and acted on."""

import copy
import json

import pytest
from rest_framework.test import APIClient

from fulfillment.models import Order
from processes import clock
from processes.models.inbox import ProcessMessage
from processes.models.journal import ProcessEvent
from tests.api.conftest import ORDER_BODY, client_for, payment_event, place, post_raw, signed_webhook

pytestmark = pytest.mark.django_db
WEBHOOK = "/api/webhooks/payments/"


@pytest.fixture
def order(catalogue):
    return Order.objects.get(pk=place(client_for("shop"), copy.deepcopy(ORDER_BODY)).json()["id"])


def journal(order) -> list[str]:
    return list(ProcessEvent.objects.filter(process_id=order.pk).values_list("reason", flat=True))


def test_a_signed_event_reaches_its_order_and_is_kept(order):
    response = signed_webhook(APIClient(), payment_event(order.pk, kind="charge.succeeded"))

    assert response.status_code == 200 and response.json() == {"status": "delivered"}
    message = ProcessMessage.objects.get(process_id=order.pk)
    assert (message.name, message.dedup_key) == ("charge.succeeded", "payment:evt_1")
    assert message.payload["data"]["object"]["reference"] == str(order.pk)
    assert "received charge.succeeded: payment provider event evt_1" in journal(order)


def test_a_known_event_id_answers_200_and_changes_nothing(order):
    event = payment_event(order.pk, kind="charge.disputed")
    signed_webhook(APIClient(), event)
    before = (journal(order), ProcessMessage.objects.count())

    again = signed_webhook(APIClient(), event)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert (journal(order), ProcessMessage.objects.count()) == before


def test_a_dispute_flags_the_order_for_a_person(order):
    signed_webhook(APIClient(), payment_event(order.pk, kind="charge.disputed", event_id="evt_d"))
    order.refresh_from_db()
    assert order.needs_attention and "dispute" in order.attention_reason and "evt_d" in order.attention_reason
    assert order.next_run_at is None, "the workflow stops until an operator resolves it"
    assert ProcessMessage.objects.get().consumed_at is not None
    assert client_for("shop").get(f"/api/orders/{order.pk}/").json()["needs_attention"] is True


def test_a_late_charge_confirmation_is_journal_only(order):
    before = Order.objects.values().get(pk=order.pk)
    signed_webhook(APIClient(), payment_event(order.pk, kind="charge.succeeded"))
    after = Order.objects.values().get(pk=order.pk)
    assert {k: v for k, v in after.items() if k != "updated_at"} == {
        k: v for k, v in before.items() if k != "updated_at"
    }
    assert ProcessMessage.objects.get().consumed_at is not None
    assert "acted on charge.succeeded" in journal(order)


def test_an_unknown_event_type_is_kept_for_later(order):
    signed_webhook(APIClient(), payment_event(order.pk, kind="charge.expired"))
    message = ProcessMessage.objects.get()
    assert message.consumed_at is None, "kept pending: a later workflow version may use it"
    order.refresh_from_db()
    assert not order.needs_attention


def test_an_event_for_no_order_of_ours_is_ignored(order):
    for reference in ("ffffffff-ffff-4fff-8fff-ffffffffffff", "not-a-uuid", None):
        event = payment_event(order.pk)
        event["data"]["object"]["reference"] = reference
        if reference is None:
            del event["data"]["object"]["reference"]
        response = signed_webhook(APIClient(), event)
        assert response.status_code == 200 and response.json() == {"status": "ignored"}
    assert not ProcessMessage.objects.exists()


@pytest.mark.parametrize(
    ("how", "detail"),
    [
        ("wrong secret", "The signature does not match the body."),
        ("old", "The signature's timestamp is more than 300 seconds off."),
        ("future", "The signature's timestamp is more than 300 seconds off."),
        ("missing", "X-Signature must look like t=<unix time>,v1=<hex HMAC-SHA256>."),
        ("garbled", "X-Signature must look like t=<unix time>,v1=<hex HMAC-SHA256>."),
        ("tampered", "The signature does not match the body."),
    ],
)
def test_a_bad_signature_is_400_and_changes_nothing(order, how, detail):
    # The server reads the same frozen clock: 301 s off stays 301 s off however slow the test.
    with clock.frozen(clock.now().replace(microsecond=0)):
        _bad_signature_is_400_and_changes_nothing(order, how, detail)


def _bad_signature_is_400_and_changes_nothing(order, how, detail):
    event, now, api = payment_event(order.pk), int(clock.now().timestamp()), APIClient()
    before = journal(order)
    if how == "wrong secret":
        response = signed_webhook(api, event, secret="whsec_other")
    elif how == "old":
        response = signed_webhook(api, event, at=now - 301)
    elif how == "future":
        response = signed_webhook(api, event, at=now + 301)
    elif how == "missing":
        response = post_raw(api, WEBHOOK, json.dumps(event))
    elif how == "garbled":
        response = post_raw(api, WEBHOOK, json.dumps(event), HTTP_X_SIGNATURE="sha256=abc")
    else:
        from fulfillment.api.webhooks import signature_make

        header = signature_make(body=json.dumps(event).encode(), secret="whsec_test_secret", timestamp=now)
        event["type"] = "charge.refunded"
        response = post_raw(api, WEBHOOK, json.dumps(event), HTTP_X_SIGNATURE=header)

    assert response.status_code == 400
    assert response.json() == {"code": "invalid_signature", "detail": detail}
    assert not ProcessMessage.objects.exists() and journal(order) == before


def test_a_signature_just_within_five_minutes_is_accepted(order):
    with clock.frozen():  # the server reads the same clock: exactly 299 seconds apart
        response = signed_webhook(APIClient(), payment_event(order.pk), at=int(clock.now().timestamp()) - 299)
    assert response.status_code == 200


def test_any_of_several_signatures_may_match(order):
    """As with Stripe, a header may carry several v1 signatures (while a secret is rotated)."""
    from fulfillment.api.webhooks import signature_make

    raw = json.dumps(payment_event(order.pk)).encode()
    good = signature_make(body=raw, secret="whsec_test_secret", timestamp=int(clock.now().timestamp()))
    header = good.replace(",v1=", ",v1=deadbeef,v1=")
    assert post_raw(APIClient(), WEBHOOK, raw, HTTP_X_SIGNATURE=header).status_code == 200


def test_without_a_configured_secret_every_webhook_is_refused(order, settings):
    settings.PAYMENT_WEBHOOK_SECRET = ""
    response = signed_webhook(APIClient(), payment_event(order.pk), secret="")
    assert response.status_code == 400 and "PAYMENT_WEBHOOK_SECRET is unset" in response.json()["detail"]


@pytest.mark.parametrize(
    ("event", "errors"),
    [
        ({"type": "charge.disputed", "data": {"object": {}}}, {"id": ["This field is required."]}),
        ({"id": 7, "type": "x", "data": {"object": {}}}, {"id": ["Not a valid string."]}),
        (
            {"id": "e", "type": "x", "data": "no"},
            {"data": {"non_field_errors": ["Invalid data. Expected a dictionary, but got str."]}},
        ),
    ],
)
def test_a_signed_but_malformed_event_is_400(order, event, errors):
    response = signed_webhook(APIClient(), event)
    assert response.status_code == 400 and response.json()["errors"] == errors


def test_signed_bytes_that_are_not_json_are_400(order):
    from fulfillment.api.webhooks import signature_make

    raw = b"\xff not json"
    header = signature_make(body=raw, secret="whsec_test_secret", timestamp=int(clock.now().timestamp()))
    response = post_raw(APIClient(), WEBHOOK, raw, HTTP_X_SIGNATURE=header)
    assert response.status_code == 400 and response.json()["code"] == "parse_error"


def test_text_postgres_cannot_keep_is_400(order):
    event = payment_event(order.pk)
    event["data"]["object"]["note"] = "nul \x00 inside"
    response = signed_webhook(APIClient(), event)
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert not ProcessMessage.objects.exists()


def test_an_oversized_webhook_is_400(order, settings):
    settings.API = {**settings.API, "MAX_BODY_BYTES": 512}
    event = payment_event(order.pk)
    event["data"]["object"]["padding"] = "x" * 1000
    response = signed_webhook(APIClient(), event)
    assert response.status_code == 400 and response.json()["code"] == "body_too_large"


def _good_header(event: dict) -> str:
    from fulfillment.api.webhooks import signature_make

    raw = json.dumps(event).encode()
    return signature_make(body=raw, secret="whsec_test_secret", timestamp=int(clock.now().timestamp()))


MALFORMED = "X-Signature must look like t=<unix time>,v1=<hex HMAC-SHA256>."


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("t=" + "9" * 400 + ",v1=abc", MALFORMED),
        ("t=1" + "0" * 12 + ",v1=abc", MALFORMED),
        ("t=-1700000000,v1=abc", MALFORMED),
        ("t=1.7e9,v1=abc", MALFORMED),
        ("t=soon,v1=abc", MALFORMED),
        ("t=１７００,v1=abc", MALFORMED),
        ("", MALFORMED),
        (" , ,", MALFORMED),
        ("v1=abc", MALFORMED),
        ("t=1700000000", MALFORMED),
        ("t=1700000000,v1=", MALFORMED),
        ("t=1700000000,v1=é", MALFORMED),
        ("t=1700000000,v1=zz", MALFORMED),
        ("t=1700000000,v1=" + "a" * 129, MALFORMED),
        ("{good},t=1700000000", MALFORMED),
        ("{good}" + ",v1=ab" * 8, "X-Signature carries more than 8 v1 signatures."),
        ("{good}," + " " * 1024, "X-Signature is longer than 1024 characters."),
        ("t=999999999999,v1=abc", "The signature's timestamp is more than 300 seconds off."),
    ],
)
def test_a_malformed_signature_header_is_400_and_changes_nothing(order, header, detail):
    """Whatever the header holds (huge, negative or non-numeric time, too long, too many parts,
    non-hex signatures), the answer is a clear 400 and nothing reaches the order: never a 500."""
    event = payment_event(order.pk)
    before = journal(order)
    header = header.replace("{good}", _good_header(event))

    response = post_raw(APIClient(), WEBHOOK, json.dumps(event), HTTP_X_SIGNATURE=header)

    assert response.status_code == 400
    assert response.json() == {"code": "invalid_signature", "detail": detail}
    assert not ProcessMessage.objects.exists() and journal(order) == before


def test_the_good_signature_among_eight_is_accepted(order):
    """The bounds leave room for a rotation: eight v1 parts, upper-case hex, a foreign scheme."""
    event = payment_event(order.pk)
    good = _good_header(event)
    timestamp, _, digest = good.partition(",v1=")
    header = f"{timestamp},v0=legacy" + ",v1=ab" * 7 + f",v1={digest.upper()}"
    response = post_raw(APIClient(), WEBHOOK, json.dumps(event), HTTP_X_SIGNATURE=header)
    assert response.status_code == 200 and response.json() == {"status": "delivered"}
