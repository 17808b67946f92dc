"""Change an order's shipping address in flight, until its goods are picked.

Before the label step has called the carrier, the new address is only recorded: the label is
made with it. Once a label exists (or a call that may have made one failed, such as an address
the carrier refused), the engine redoes the label step (processes.redo): the old label is
voided at the carrier, then a new one made with the new address under keys of its own. The
order's row lock orders this against the warehouse: a pick task nobody claimed is withdrawn
with the change, one a worker claimed first makes the change refused. The journal keeps the
old and the new address; the client reads "Shipping address changed.".

Called by the API (PATCH /api/orders/{id}/) and the admin (the order page, permission
`fulfillment.change_address`); the address comes validated (the API's AddressIn).
"""

from django.db import transaction

from fulfillment.errors import AddressNotChangeable
from fulfillment.models import Order, OrderState
from processes import clock, journal, leases
from processes.journal import Actor
from processes.models.journal import ActorType
from processes.models.process import Direction, RunStatus
from processes.redo import process_redo_step, redo_refusal
from processes.workflow import registry

LABEL_STEP = "create_label"
ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country")
TOO_LATE = {
    OrderState.PICKED: "its items have been picked",
    OrderState.COMPLETED: "it is completed",
    OrderState.COMPENSATING: "it is being cancelled",
    OrderState.CANCELLED: "it is cancelled",
}


def order_address_change(*, order_id, address: dict, actor: Actor, reason: str) -> Order:
    """Record the new shipping `address` of the order and, when its label exists (or may),
    have the label made again; raise AddressNotChangeable saying why when it cannot change.
    The same address again changes nothing."""
    with transaction.atomic(), journal.acting(actor, reason, step=LABEL_STEP):
        order = Order.objects.select_for_update().get(pk=order_id)
        redo, refusal = _plan(order)
        if refusal:
            raise AddressNotChangeable(f"The shipping address can no longer be changed: {refusal}.")
        old, new = order.shipping_address, _normalised(address)
        if _normalised(old) == new:
            return order
        order.shipping_address = new
        why = f"shipping address changed from {address_words(old)} to {address_words(new)}"
        with journal.because(f"{why}: {reason}" if reason else why, step=LABEL_STEP):
            order.change_address()
        order.save(update_fields=["shipping_address", "state", "state_changed_at"])
        if redo:
            order = process_redo_step(
                model=Order,
                process_id=order.pk,
                step=LABEL_STEP,
                actor=actor,
                reason=f"new address: {reason}",
            )
        return order


def order_address_change_by_operator(*, order_id, user, reason: str, address: dict) -> Order:
    """The admin's "Change address": `order_address_change` as the operator, with their reason."""
    actor = Actor(ActorType.OPERATOR, user.get_username())
    return order_address_change(order_id=order_id, address=address, actor=actor, reason=reason)


def address_change_refusal(order: Order) -> str:
    """Why the order's address cannot change now ('' when it can): for showing the action; the
    service asks again under the row lock."""
    return _plan(order)[1]


def address_words(address: dict) -> str:
    """An address on one line, for the journal: "Ada Lovelace, 1 Main St, 10115 Berlin, DE"."""
    address = address or {}
    place = " ".join(part for part in (address.get("postal_code"), address.get("city")) if part)
    parts = (address.get("name"), address.get("line1"), address.get("line2"), place, address.get("country"))
    return ", ".join(str(part) for part in parts if part)


def _plan(order: Order) -> tuple[bool, str]:
    """(whether the label must be made again, why the address cannot change: '' when it can)."""
    if order.state in TOO_LATE or order.run_status == RunStatus.FINISHED:
        return False, TOO_LATE.get(order.state, "it is finished")
    if order.direction == Direction.COMPENSATE:
        return False, "it is being cancelled"
    label_done = LABEL_STEP in order.completed_steps
    if order.step != LABEL_STEP and not label_done:
        return False, ""  # the label step has not come yet: it will use the new address
    if leases.held(order, clock.now()):
        return False, f"its {order.step.replace('_', ' ')} step is running right now; try again in a moment"
    if order.step == LABEL_STEP and (order.attempts == 0 or order.direction == Direction.REDO):
        return False, ""  # no call made yet (or the label is being redone): it uses the new one
    refusal = redo_refusal(registry.for_process(order), order, LABEL_STEP)
    return True, refusal


def _normalised(address: dict) -> dict:
    return {name: (address or {}).get(name, "") for name in ADDRESS_FIELDS}
