from django.apps import AppConfig


class FulfillmentConfig(AppConfig):
    """The order domain: products, stock, orders and the workflow that fulfils them."""

    name = "fulfillment"
    verbose_name = "Fulfillment"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from fulfillment.bulk_actions import register_bulk_actions
        from fulfillment.picking import checks  # noqa: F401  (registers the pick thresholds' checks)
        from fulfillment.returns import checks as return_checks  # noqa: F401  (the return settings')
        from fulfillment.returns.workflow import RETURN_WORKFLOWS
        from fulfillment.workflow import ORDER_WORKFLOWS
        from processes.workflow import registry

        for workflow in [*ORDER_WORKFLOWS, *RETURN_WORKFLOWS]:
            registry.register(workflow)
        register_bulk_actions()
