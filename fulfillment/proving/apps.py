from django.apps import AppConfig
from django.conf import settings


class ProvingConfig(AppConfig):
    """The proving tools as an app of their own, so that Django finds their management commands.

    Its one model is the noop bench's process (models.NoopProcess); soak, bench,
    check_invariants, generate_orders, explain_scale, load_demo_data and place_demo_orders
    live in its management/commands/.
    """

    name = "fulfillment.proving"
    label = "proving"
    verbose_name = "Proving tools"

    def ready(self):
        if settings.BENCH_NOOP_WORKFLOW:
            from fulfillment.proving.noop_workflow import noop_workflow_register

            noop_workflow_register()
