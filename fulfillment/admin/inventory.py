"""Catalogue, stock and pick tasks. Stock and pick tasks change only through the workflow."""

from django.contrib import admin

from fulfillment.models import PickTask, Product, Stock, Warehouse
from processes.read_only_admin import ReadOnlyAdmin


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "price", "weight_grams"]
    search_fields = ["sku", "name"]


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ["code", "name"]


@admin.register(Stock)
class StockAdmin(ReadOnlyAdmin):
    list_display = ["product", "warehouse", "on_hand", "reserved"]
    list_select_related = ["product", "warehouse"]


@admin.register(PickTask)
class PickTaskAdmin(ReadOnlyAdmin):
    list_display = ["order", "warehouse", "status", "problem", "assignee", "created_at", "due_at"]
    list_filter = ["status", "problem", "warehouse"]
    list_select_related = ["warehouse", "assignee"]
    ordering = ["due_at"]
