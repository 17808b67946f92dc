from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from fulfillment.api import carrier_webhooks, return_views, views

app_name = "api"

urlpatterns = [
    path("orders/", views.OrderListView.as_view(), name="order-list"),
    path("orders/<uuid:pk>/", views.OrderDetailView.as_view(), name="order-detail"),
    path("orders/<uuid:pk>/events/", views.OrderEventsView.as_view(), name="order-events"),
    path("orders/<uuid:pk>/cancel/", views.OrderCancelView.as_view(), name="order-cancel"),
    path("orders/<uuid:pk>/returns/", return_views.OrderReturnsView.as_view(), name="order-returns"),
    path("returns/<uuid:pk>/", return_views.ReturnDetailView.as_view(), name="return-detail"),
    path("returns/<uuid:pk>/cancel/", return_views.ReturnCancelView.as_view(), name="return-cancel"),
    path("webhooks/payments/", views.PaymentWebhookView.as_view(), name="webhook-payments"),
    path("webhooks/carrier/", carrier_webhooks.CarrierWebhookView.as_view(), name="webhook-carrier"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    re_path(r"", views.api_not_found),
]
