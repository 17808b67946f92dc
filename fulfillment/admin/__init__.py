"""The operator console, in the Django admin.

- orders: the order list (filters, search, stuck orders) and the order page (journal, payment,
  stock, label, pick task, ledger cross-check);
- actions: retry, compensate, cancel, skip a step by hand, resolve needs-attention, each behind
  a confirmation page and its own permission;
- bulk: one action over every order a filter of the list matches, its preview and progress;
- dashboard: the figures an operator starts from, each linking to its orders;
- inventory: catalogue, stock and pick tasks.
"""

from django.contrib import admin

from fulfillment.admin.inventory import PickTaskAdmin, ProductAdmin, StockAdmin, WarehouseAdmin
from fulfillment.admin.orders import OrderAdmin

__all__ = ["OrderAdmin", "PickTaskAdmin", "ProductAdmin", "StockAdmin", "WarehouseAdmin"]

admin.site.site_header = "Fulfillment back office"
admin.site.site_title = "Fulfillment"
admin.site.index_title = "Back office"
admin.site.site_url = None  # the site has no public pages: "View site" only led back here
