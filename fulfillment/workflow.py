"""The order workflow, as the business reads it: charge, reserve, label, pick, confirm.

If a step cannot succeed, the steps before it are undone in reverse: the label is voided,
the stock released, the payment refunded.

Two versions run side by side (processes.versions): an order keeps the version it started
on. v2 screens the order for fraud before charging it; the share of new orders on v2 is the
rollout setting operators change in the admin. Keep v1 registered while `manage.py
workflow_versions` shows v1 orders in flight (a system check refuses to start otherwise).
"""

from fulfillment.models import OrderState as S
from fulfillment.payment_events import order_message_handle
from fulfillment.steps import (
    ChargePayment,
    CreateLabel,
    ReserveInventory,
    ScreenForFraud,
    SendConfirmation,
    WaitForPick,
)
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

ORDER_WORKFLOW_V2 = Workflow(
    name="order",
    model="fulfillment.Order",
    version=2,
    steps=[
        ScreenForFraud(),
        ChargePayment(),
        ReserveInventory(),
        CreateLabel(),
        WaitForPick(),
        SendConfirmation(),
    ],
    begin_compensation="start_compensation",
    finish_compensation="mark_cancelled",
    on_message=order_message_handle,
    # Where a v1 order continues on v2: at the step it is at, except that an order whose charge
    # was never attempted is screened first. Picked orders finish on v1 (nothing left to gain).
    migrates_from={
        1: {
            S.RECEIVED: "fraud_check",
            S.PAYMENT_CHARGED: "reserve_inventory",
            S.INVENTORY_RESERVED: "create_label",
            S.LABEL_CREATED: "pick",
            S.AWAITING_PICK: "pick",
        }
    },
)

ORDER_WORKFLOWS = [ORDER_WORKFLOW, ORDER_WORKFLOW_V2]
# Every step an order can be at, whatever its version, in the newest version's order: for the
# console's filters and stuck detection (a step's name means the same step in every version).
ORDER_STEPS = list({step.name: step for wf in reversed(ORDER_WORKFLOWS) for step in wf.steps}.values())
