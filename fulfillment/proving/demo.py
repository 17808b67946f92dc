"""Demo data: a small catalogue, one stocked warehouse, and the people who use the product."""

import secrets
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from fulfillment.models import Product, Stock, Warehouse, WarehouseAssignment
from fulfillment.roles import OPERATORS, SUPPORT, roles_sync
from fulfillment.warehouse.access import WORKER_GROUP

CATALOGUE = [
    ("MUG-001", "Enamel mug", "12.50", 350),
    ("TEE-042", "Organic T-shirt", "24.00", 200),
    ("CAP-007", "Canvas cap", "18.90", 150),
    ("BAG-100", "Tote bag", "9.95", 120),
    ("NB-A5", "A5 notebook", "6.40", 250),
    ("PEN-3", "Fountain pen", "32.00", 40),
    ("SOCK-2", "Wool socks", "14.00", 90),
    ("LAMP-9", "Desk lamp", "49.00", 1400),
]

WORKERS = WORKER_GROUP  # the warehouse pages' group (fulfillment.warehouse.access)
MAIN = {"code": "MAIN", "defaults": {"name": "Main warehouse"}}
# Where each product sits in the demo warehouse: aisle, shelf, level.
DEMO_BINS = {sku: f"A-{index + 1:02d}-{index % 3 + 1}" for index, (sku, *_) in enumerate(CATALOGUE)}


def demo_data_load(*, stock_per_product: int = 1000) -> dict:
    """Create or top up the demo catalogue and stock; returns the counts."""
    with transaction.atomic():
        warehouse, _ = Warehouse.objects.get_or_create(code="MAIN", defaults={"name": "Main warehouse"})
        for sku, name, price, grams in CATALOGUE:
            product, _ = Product.objects.update_or_create(
                sku=sku, defaults={"name": name, "price": Decimal(price), "weight_grams": grams}
            )
            stock, _ = Stock.objects.get_or_create(product=product, warehouse=warehouse)
            if not stock.bin_location:
                stock.bin_location = DEMO_BINS[sku]
                Stock.objects.filter(pk=stock.pk).update(bin_location=stock.bin_location)
            if stock.on_hand < stock.reserved + stock_per_product // 2:
                stock.on_hand = stock.reserved + stock_per_product
                stock.save()
    return {"products": len(CATALOGUE), "warehouse": warehouse.code}


def demo_user_reset(*, username: str, group_name: str, staff: bool) -> str:
    """Create or update a demo login with a fresh random password, which is returned."""
    password = secrets.token_urlsafe(12)
    with transaction.atomic():
        user, _ = get_user_model().objects.get_or_create(username=username)
        user.is_staff = staff
        user.set_password(password)
        user.save()
        if group_name in (OPERATORS, SUPPORT):
            roles_sync()  # the console's roles and their permissions (fulfillment.roles)
        group, _ = Group.objects.get_or_create(name=group_name)
        user.groups.add(group)
        if group_name == WORKERS:  # the demo worker picks in the demo warehouse
            warehouse, _ = Warehouse.objects.get_or_create(**MAIN)
            WarehouseAssignment.objects.get_or_create(user=user, warehouse=warehouse)
    return password
