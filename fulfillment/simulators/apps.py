from django.apps import AppConfig


class SimulatorsConfig(AppConfig):
    name = "fulfillment.simulators"
    label = "simulators"
    verbose_name = "Service simulators"
    default_auto_field = "django.db.models.BigAutoField"
