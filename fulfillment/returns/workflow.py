"""The return workflow, as the business reads it: approve, label, parcel, inspect, refund,
restock, confirm.

Cancelled (by the client or an operator) or timed out before the parcel arrives, the return is
undone in reverse: the customer is told it is closed and its label is voided. Once the parcel
is at the warehouse it goes on to its end; a step that cannot finish asks a person.
"""

from fulfillment.returns.parcels import return_message_handle
from fulfillment.returns.steps import (
    ApproveReturn,
    AwaitParcel,
    CreateReturnLabel,
    InspectReturn,
    RefundReturn,
    RestockReturn,
    SendReturnConfirmation,
)
from processes.workflow import Workflow

RETURN_WORKFLOW = Workflow(
    name="return",
    model="fulfillment.Return",
    version=1,
    steps=[
        ApproveReturn(),
        CreateReturnLabel(),
        AwaitParcel(),
        InspectReturn(),
        RefundReturn(),
        RestockReturn(),
        SendReturnConfirmation(),
    ],
    begin_compensation="start_compensation",
    finish_compensation="mark_cancelled",
    on_message=return_message_handle,
)

RETURN_WORKFLOWS = [RETURN_WORKFLOW]
RETURN_STEPS = RETURN_WORKFLOW.steps
