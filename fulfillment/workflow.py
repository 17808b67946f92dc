"""The order workflow, as the business reads it: charge, reserve, label, pick, confirm.

If a step cannot succeed, the steps before it are undone in reverse: the label is voided,
the stock released, the payment refunded.
"""

from fulfillment.payment_events import order_message_handle
from fulfillment.steps import ChargePayment, CreateLabel, ReserveInventory, SendConfirmation, WaitForPick
from processes.workflow import Workflow

ORDER_WORKFLOW = Workflow(
    name="order",
    model="fulfillment.Order",
    version=1,
    steps=[
        ChargePayment(),
        ReserveInventory(),
        CreateLabel(),
        WaitForPick(),
        SendConfirmation(),
    ],
    begin_compensation="start_compensation",
    finish_compensation="mark_cancelled",
    # Events from the payment provider (webhooks): a dispute flags the order for a person.
    on_message=order_message_handle,
)
