from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The client REST API: token-authenticated clients, idempotency keys, provider webhooks."""

    name = "fulfillment.api"
    label = "api"
    verbose_name = "Client API"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from fulfillment.api import checks  # noqa: F401  (registers the system checks)
