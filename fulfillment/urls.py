from django.contrib import admin
from django.urls import include, path

from fulfillment.landing import landing

urlpatterns = [
    path("", landing, name="landing"),
    path("admin/", admin.site.urls),
    # The client REST API; DRF's login pages (for the browsable API) first, as api/ ends in a catch-all.
    path("api/auth/", include("rest_framework.urls")),
    path("api/", include("fulfillment.api.urls")),
    path("warehouse/", include("fulfillment.warehouse.urls")),
]

# Refusals and missing pages in the look of the admin or the warehouse (fulfillment.error_pages).
handler403 = "fulfillment.error_pages.permission_denied"
handler404 = "fulfillment.error_pages.page_not_found"
