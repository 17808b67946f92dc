"""POST /api/orders/ costs a fixed number of queries, whatever its lines, and answers what a read
of the order right after would."""

from decimal import Decimal

import pytest

from fulfillment.models import Product, Stock
from tests.api.conftest import place

pytestmark = pytest.mark.django_db

# The statements of one placement in the tests (database rate windows; the test's transaction
# makes every atomic block a savepoint), whatever its lines: the failed-token peek, the token, the
# client's count and the expired windows' purge 4; the idempotency look-up 1; the serializer's
# products 1; the placing block's savepoint 2; the claim 4 (lock, savepoint, insert, release);
# the placement's products and warehouse 2; the order's savepoint 2; the rollout, the order, its
# creation event, its lines 4; the key completed 1; the answer's transitions 1. Reading the
# order back for the answer took 4 more (the order, its lines, labels and step attempts).
PLACE_QUERIES = 22


@pytest.fixture
def many_products(catalogue):
    """Eight more products in stock, so that an order can have ten lines."""
    skus = []
    for number in range(8):
        product = Product.objects.create(
            sku=f"EXTRA-{number}", name=f"Extra {number}", price=Decimal("1.00"), weight_grams=10
        )
        Stock.objects.create(product=product, warehouse=catalogue.warehouse, on_hand=100)
        skus.append(product.sku)
    return skus


def test_placing_costs_the_same_queries_for_one_line_or_ten(
    shop, body, many_products, django_assert_max_num_queries
):
    """No query per line: the lines are validated, created and rendered in one statement each."""
    body["lines"] = [{"sku": "MUG-001", "quantity": 1}]
    with django_assert_max_num_queries(PLACE_QUERIES):
        assert place(shop, body, key="one-line").status_code == 201
    body["lines"] = [{"sku": sku, "quantity": 2} for sku in ["MUG-001", "TEE-042", *many_products]]
    with django_assert_max_num_queries(PLACE_QUERIES):
        response = place(shop, body, key="ten-lines")
    assert response.status_code == 201 and len(response.json()["lines"]) == 10


def test_the_answer_is_what_a_read_of_the_order_gives(shop, body, many_products):
    """The 201 is built from what the placement wrote, not read back: it is the same document
    as GET /api/orders/<id>/ right after, lines in the same order, with their ids."""
    body["lines"] = [{"sku": sku, "quantity": 3} for sku in reversed(["MUG-001", *many_products])]
    placed = place(shop, body)
    read = shop.get(f"/api/orders/{placed.json()['id']}/")
    assert placed.status_code == 201 and read.status_code == 200
    assert placed.json() == read.json()


def test_a_replay_reads_the_order_as_it_is_now(shop, body, catalogue):
    """The same key again answers from the database (another request placed it)."""
    first = place(shop, body, key="again")
    replay = place(shop, body, key="again")
    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
