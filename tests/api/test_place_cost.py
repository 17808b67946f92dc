"""POST /api/orders/ costs a fixed number of queries, whatever its lines, and answers what a read
of the order right after would."""

from decimal import Decimal

import pytest

from fulfillment.models import Product, Stock
from tests.api.conftest import place

pytestmark = pytest.mark.django_db

# The statements of one placement in the tests' settings (database rate windows), whatever its
# lines: token 1, throttle 6 (the failed-token peek, the client's count with its savepoint, the
# throttle's own savepoint), idempotency lookup 1 and claim 4 (lock, savepoint, insert,
# release), products read by the serializer 1 and the placement 2 (products, warehouse), the
# order's savepoint 2, the rollout 1, the order 1, its creation event 1, its lines 1, the key
# completed 1, the wake-up 0 (Redis, on commit; 1 with the ORM broker), and the answer's
# transitions 1: 22 at most, 4 fewer than reading the order back (order, lines, labels, step
# attempts, transitions).
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
