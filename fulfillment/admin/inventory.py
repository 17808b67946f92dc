"""Catalogue, stock and pick tasks. Stock and pick tasks change only through the workflow."""

from django.contrib import admin
from django.utils.html import format_html

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
    list_display = ["short_order", "warehouse", "status", "problem", "assignee", "created_at", "due_at"]
    list_filter = ["status", "problem", "warehouse"]
    list_select_related = ["warehouse", "assignee"]
    ordering = ["due_at"]

    @admin.display(description="order", ordering="order__created_at")
    def short_order(self, task):
        """The order's first 8 characters, as the order list shows them (the whole id on hover)."""
        return format_html('<span title="{}">{}</span>', task.order_id, str(task.order_id)[:8])

    def changelist_view(self, request, extra_context=None):
        # As on the order list: the app sidebar's 300 px go to the columns, so the times that
        # say when a task was opened and is due stay in sight at 1280 px.
        extra = {"is_nav_sidebar_enabled": False, **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)
