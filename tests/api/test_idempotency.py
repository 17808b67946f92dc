"""The same Idempotency-Key places one order: a replay answers alike, another body is a 422."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command

from fulfillment.api.models import IdempotencyRecord
from fulfillment.models import Order
from processes import clock
from tests.api.conftest import place

pytestmark = pytest.mark.django_db


def test_replay_answers_with_the_same_order_and_creates_nothing(shop, body, catalogue):
    first = place(shop, body, key="order-42")
    again = place(shop, body, key="order-42")

    assert again.status_code == first.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert again["Location"] == first["Location"]
    assert Order.objects.count() == 1 and IdempotencyRecord.objects.count() == 1


def test_replay_ignores_key_order_and_whitespace(shop, body, catalogue):
    """The same JSON written differently is the same request."""
    first = place(shop, body, key="k")
    reordered = dict(reversed(list(body.items())))
    again = place(shop, reordered, key="k")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]


def test_replay_shows_the_order_as_it_is_now(shop, body, catalogue):
    """A replay answers with the same order, in its current state, not a stale copy."""
    first = place(shop, body, key="k").json()
    Order.objects.filter(pk=first["id"]).update(needs_attention=True)
    assert place(shop, body, key="k").json()["needs_attention"] is True


def test_same_key_different_body_is_422(shop, body, catalogue):
    place(shop, body, key="k")
    body["lines"][0]["quantity"] = 3
    response = place(shop, body, key="k")

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_same_key_different_invalid_body_is_still_422(shop, body, catalogue):
    """A reused key is refused before the body is looked at."""
    place(shop, body, key="k")
    assert place(shop, {"email": 1}, key="k").status_code == 422


def test_keys_are_scoped_to_the_client(shop, other_shop, body, catalogue):
    """Two clients may pick the same key: each gets its own order."""
    mine = place(shop, body, key="same").json()
    theirs = place(other_shop, body, key="same")
    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs
    assert theirs.json()["id"] != mine["id"]
    assert Order.objects.count() == 2


def test_a_refused_request_does_not_use_up_its_key(shop, body, catalogue):
    """A 400 places nothing and records nothing: the key is free for the corrected request."""
    bad = {**body, "lines": [{"sku": "NOPE", "quantity": 1}]}
    assert place(shop, bad, key="k").status_code == 400
    assert not IdempotencyRecord.objects.exists()
    assert place(shop, body, key="k").status_code == 201


def test_replay_after_the_catalogue_changed_still_answers_201(shop, body, catalogue):
    """A retry of a placed order is answered from the record, not validated again."""
    first = place(shop, body, key="k").json()
    catalogue.mug.sku = "MUG-RENAMED"
    catalogue.mug.save()
    again = place(shop, body, key="k")
    assert again.status_code == 201 and again.json()["id"] == first["id"]


def test_keys_are_kept_24_hours(shop, body, catalogue):
    """A key answers with its order for 24 hours; after that it may place a new order."""
    with clock.frozen():
        start = clock.now()
        first = place(shop, body, key="k").json()
        clock.advance(timedelta(hours=23, minutes=59))
        assert place(shop, body, key="k").json()["id"] == first["id"]
        clock.advance(timedelta(minutes=2))
        later = place(shop, body, key="k")
    assert later.status_code == 201 and "Idempotent-Replayed" not in later
    assert later.json()["id"] != first["id"]
    record = IdempotencyRecord.objects.get()
    assert str(record.order_id) == later.json()["id"] and record.created_at > start


def test_purge_deletes_only_expired_keys(shop, body, catalogue):
    with clock.frozen():
        place(shop, body, key="old")
        clock.advance(timedelta(hours=25))
        place(shop, body, key="new")
        out = io.StringIO()
        call_command("purge_idempotency_keys", stdout=out)
    assert "Deleted 1 expired" in out.getvalue()
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
