"""The order domain's models, one module for each kind of thing; import them from here.

- `catalogue`: products, warehouses and their stock.
- `orders`: the order (its state machine and who may cancel it when) and its lines.
- `effects`: what each step leaves behind: fraud clearance, payment, reservations, labels, emails.
- `returns`: returns of a completed order's units, their lines and what each return step leaves.
- `picking`: pick tasks, who may pick in which warehouse, and what a worker must be told.
- `bulk_operations`: the engine's bulk operations as the order console lists them (a proxy).

The database keeps them honest with check and unique constraints; the code is the second line.
"""

from fulfillment.models.bulk_operations import OrderBulkOperation
from fulfillment.models.catalogue import Product, Stock, Warehouse
from fulfillment.models.effects import FraudCheck, Notification, Payment, Reservation, Shipment
from fulfillment.models.orders import CANCELLABLE, UNDOABLE, Order, OrderLine, OrderState
from fulfillment.models.picking import PickNotice, PickProblem, PickTask, WarehouseAssignment
from fulfillment.models.returns import (
    RETURN_CANCELLABLE,
    InspectionTask,
    Return,
    ReturnLabel,
    ReturnLine,
    ReturnRefund,
    ReturnRestock,
    ReturnState,
)

__all__ = [
    "CANCELLABLE",
    "RETURN_CANCELLABLE",
    "InspectionTask",
    "Return",
    "ReturnLabel",
    "ReturnLine",
    "ReturnRefund",
    "ReturnRestock",
    "ReturnState",
    "UNDOABLE",
    "FraudCheck",
    "Notification",
    "Order",
    "OrderBulkOperation",
    "OrderLine",
    "OrderState",
    "Payment",
    "PickNotice",
    "PickProblem",
    "PickTask",
    "Product",
    "Reservation",
    "Shipment",
    "Stock",
    "Warehouse",
    "WarehouseAssignment",
]
