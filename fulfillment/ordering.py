"""Place an order: validate it completely, then create it and start its workflow atomically."""

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

from fulfillment.countries import NotACountry, country_code_check
from fulfillment.errors import InvalidOrder
from fulfillment.models import Order, OrderLine, Product, Warehouse
from processes.control import process_start
from processes.journal import Actor

ADDRESS_FIELDS = ("name", "line1", "city", "postal_code", "country")


@dataclass(frozen=True)
class LineRequest:
    sku: str
    quantity: int


def order_place(
    *,
    email: str,
    shipping_address: dict,
    lines: Iterable[LineRequest],
    payment_token: str,
    actor: Actor,
    owner=None,
    warehouse: Warehouse | None = None,
    currency: str = "EUR",
) -> Order:
    """Create the order and its lines and make its first step due, or raise InvalidOrder.

    The order comes back with the lines it was created with as `placed_lines` (their ids
    included), so that its answer to the client needs no second read (api.selectors)."""
    lines = list(lines)
    _check_address(shipping_address)
    if not lines:
        raise InvalidOrder("An order needs at least one line.")
    products = {p.sku: p for p in Product.objects.filter(sku__in=[line.sku for line in lines])}
    for line in lines:
        if line.sku not in products:
            raise InvalidOrder(f"Unknown SKU {line.sku!r}.")
        if isinstance(line.quantity, bool) or not isinstance(line.quantity, int) or line.quantity < 1:
            raise InvalidOrder(f"Quantity of {line.sku} must be a whole number of at least 1.")
    warehouse = warehouse or Warehouse.objects.order_by("pk").first()
    if warehouse is None:
        raise InvalidOrder("No warehouse is set up.")
    total = sum((products[line.sku].price * line.quantity for line in lines), Decimal("0"))
    with transaction.atomic():
        order = Order(
            owner=owner,
            email=email,
            shipping_address=shipping_address,
            warehouse=warehouse,
            payment_token=payment_token,
            total=total,
            currency=currency,
        )
        # The rollout bucket is the customer's: the same customer always gets the same version.
        process_start(process=order, actor=actor, reason="order received", rollout_key=email)
        order.placed_lines = OrderLine.objects.bulk_create(
            OrderLine(
                order=order,
                product=products[line.sku],
                sku=line.sku,
                quantity=line.quantity,
                unit_price=products[line.sku].price,
            )
            for line in lines
        )
    return order


def _check_address(address) -> None:
    if not isinstance(address, dict):
        raise InvalidOrder("shipping_address must be an object.")
    missing = [field for field in ADDRESS_FIELDS if not str(address.get(field) or "").strip()]
    if missing:
        raise InvalidOrder(f"shipping_address is missing {', '.join(missing)}.")
    try:
        country_code_check(address["country"])
    except NotACountry as error:
        raise InvalidOrder(f"shipping_address country: {error}") from None
