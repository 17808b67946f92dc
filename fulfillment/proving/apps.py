from django.apps import AppConfig


class ProvingConfig(AppConfig):
    """The proving tools as an app of their own, so that Django finds their management commands.

    It has no models: soak, bench, check_invariants, generate_orders, explain_scale,
    load_demo_data and place_demo_orders live in its management/commands/.
    """

    name = "fulfillment.proving"
    label = "proving"
    verbose_name = "Proving tools"
