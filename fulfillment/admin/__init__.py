"""The operator console, in the Django admin.

- orders: the order list (filters, search, stuck orders) and the order page (journal, payment,
  stock, label, pick task, ledger cross-check);
- actions: retry, compensate, cancel, skip a step by hand, resolve needs-attention, each behind
  a confirmation page and its own permission;
- returns: the return list and page, beside the orders', with their actions (return_actions);
  the order page requests a return for a customer (return_request);
- bulk: one action over every order a filter of the list matches, its preview and progress;
  bulk_operations: the list of them all, each leading to its progress page;
- dashboard: the figures an operator starts from, each linking to its orders and returns;
- inventory: catalogue, stock and pick tasks.
"""

from django.contrib import admin

from fulfillment.admin.bulk_operations import OrderBulkOperationAdmin
from fulfillment.admin.inventory import PickTaskAdmin, ProductAdmin, StockAdmin, WarehouseAdmin
from fulfillment.admin.orders import OrderAdmin
from fulfillment.admin.returns import ReturnAdmin

__all__ = [
    "OrderAdmin",
    "OrderBulkOperationAdmin",
    "PickTaskAdmin",
    "ProductAdmin",
    "ReturnAdmin",
    "StockAdmin",
    "WarehouseAdmin",
]

admin.site.site_header = "Fulfillment back office"
admin.site.site_title = "Fulfillment"
admin.site.index_title = "Back office"
admin.site.site_url = None  # the site has no public pages: "View site" only led back here
