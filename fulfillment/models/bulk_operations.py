"""The engine's bulk operations, seen from the order domain: a proxy, so that their list sits
in the order console's section of the admin (fulfillment.admin.bulk_operations) with a view
permission of its own, while the rows stay the engine's (processes.models.bulk)."""

from processes.models.bulk import BulkOperation


class OrderBulkOperation(BulkOperation):
    """A bulk operation over orders; the admin narrows the rows to the order workflow's."""

    class Meta:
        proxy = True
        verbose_name = "bulk operation"
        verbose_name_plural = "bulk operations"
