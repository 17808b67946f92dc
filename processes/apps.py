from django.apps import AppConfig


class ProcessesConfig(AppConfig):
    name = "processes"
    verbose_name = "Processes"
    default_auto_field = "django.db.models.BigAutoField"
