from django.apps import AppConfig


class SimulatorsConfig(AppConfig):
    """Simulated payment gateway, carrier and mailbox, with their own ledgers and fault injection."""

    name = "fulfillment.simulators"
    label = "simulators"
    verbose_name = "Service simulators"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from fulfillment.simulators import conf  # noqa: F401  (registers the system check)
