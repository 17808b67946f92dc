"""The catalogue and where it is kept: products, warehouses and each warehouse's stock.

Stock may never go negative nor promise more than is on hand: check constraints say so in the
database, whatever the code does.
"""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q


class Product(models.Model):
    sku = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0"))])
    weight_grams = models.PositiveIntegerField(default=500)

    class Meta:
        ordering = ["sku"]
        constraints = [models.CheckConstraint(condition=Q(price__gte=0), name="product_price_not_negative")]

    def __str__(self):
        return f"{self.sku} {self.name}"


class Warehouse(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=200)
    # The carrier account this warehouse ships with; blank: the shop's one account. The label
    # step keeps its flow control per account, so one broken account holds only its orders.
    carrier_account = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name


class Stock(models.Model):
    """How many of a product a warehouse holds, and how many of those are promised to orders."""

    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stock")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stock")
    on_hand = models.IntegerField(default=0)
    reserved = models.IntegerField(default=0)
    # Where a picker finds it, e.g. "A-03-2" (aisle, shelf, level); shown on the pick pages.
    bin_location = models.CharField(max_length=32, blank=True)

    class Meta:
        verbose_name_plural = "stock"
        constraints = [
            models.UniqueConstraint(
                fields=["product", "warehouse"], name="stock_one_row_per_product_warehouse"
            ),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="stock_on_hand_not_negative"),
            models.CheckConstraint(condition=Q(reserved__gte=0), name="stock_reserved_not_negative"),
            models.CheckConstraint(
                condition=Q(reserved__lte=F("on_hand")), name="stock_reserved_within_on_hand"
            ),
        ]

    def __str__(self):
        return f"{self.product.sku} @ {self.warehouse.code}: {self.on_hand} on hand, {self.reserved} reserved"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved
