from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    """The order domain: products, stock, orders and the workflow that fulfils them."""

    name = "fulfillment"
    verbose_name = "Fulfillment"
    default_auto_field = "django.db.models.BigAutoField"
