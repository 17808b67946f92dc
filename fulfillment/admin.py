"""A read-only view of orders and stock for operators.

Orders change only through the workflow and its services, never by editing rows: the admin
shows them. (Operator actions — retry, compensate, cancel — come with their own permissions.)
"""

from django.contrib import admin

from fulfillment.models import Order, OrderLine, PickTask, Product, Stock, Warehouse
from processes.models import ProcessEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    fields = ["sku", "quantity", "unit_price"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "state",
        "step",
        "attempts",
        "needs_attention",
        "next_run_at",
        "email",
        "total",
        "created_at",
    ]
    list_filter = ["state", "needs_attention", "step"]
    search_fields = ["id", "email"]
    list_select_related = ["warehouse"]
    inlines = [OrderLineInline]
    readonly_fields = ["journal"]
    exclude = ["completed_steps"]

    @admin.display(description="Journal")
    def journal(self, order):
        from django.utils.html import format_html_join

        events = ProcessEvent.objects.filter(process_id=order.pk)
        return format_html_join(
            "\n",
            "<div>{} — {} ({}{})</div>",
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    str(e),
                    e.actor_type,
                    f" {e.actor}" if e.actor else "",
                )
                for e in events
            ),
        )


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
    list_display = ["order", "warehouse", "status", "assignee", "due_at"]
    list_filter = ["status", "warehouse"]
    list_select_related = ["warehouse", "assignee"]
