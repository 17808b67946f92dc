"""The operator actions the console and `manage.py bulk_orders` offer over many orders at once.

Each is the single action's service (fulfillment.interventions) run by a bulk operation
(processes.bulk) as the operator who asked, with the refusal check that service makes first,
which the preview asks too. Registered with the engine when the app is ready.
"""

from django.db import IntegrityError
from django_fsm import TransitionNotAllowed

from fulfillment import interventions
from fulfillment.errors import InvalidOrder, PickRefused
from fulfillment.models import Order
from processes import refusals
from processes.bulk import BulkAction, register
from processes.exceptions import IllegalTransition, ProcessStateError, StepError
from processes.versions import migration_refusal
from processes.workflow import registry

LABEL = "fulfillment.order"
# What a service raises when the order's state or rows do not allow the action: a refusal.
DOMAIN_REFUSALS = (
    TransitionNotAllowed,
    IllegalTransition,
    IntegrityError,
    StepError,
    InvalidOrder,
    PickRefused,
)


def _acting(service, **fixed):
    """`service` as a bulk action's `act`: the order as the service left it, in words."""

    def act(process_id, *, actor, reason: str, arguments: dict) -> str:
        chosen = {name: arguments[name] for name in fixed if name in arguments}
        try:
            order = service(order_id=process_id, user=actor, reason=reason, **{**fixed, **chosen})
        except Order.DoesNotExist:
            raise ProcessStateError(f"Order {process_id} does not exist.") from None
        except DOMAIN_REFUSALS as error:
            raise ProcessStateError(f"Order {process_id}: {error}") from error
        return f"now {order.get_state_display().lower()}" + (f", at {order.step}" if order.step else "")

    return act


def _cancel_refusal(order, now, arguments):
    return interventions.order_cancel_refusal(order) or refusals.compensate(order, now)


def _migrate_refusal(order, now, arguments):
    version = arguments.get("to_version") or registry.newest(LABEL).version
    return migration_refusal(order, registry.for_model(LABEL, version), now)


BULK_ACTIONS = [
    BulkAction(
        "retry",
        "Retry now",
        "fulfillment.retry_order",
        _acting(interventions.order_retry_now, reset_attempts=False),
        lambda order, now, arguments: refusals.retry(order, now),
    ),
    BulkAction(
        "compensate",
        "Compensate",
        "fulfillment.compensate_order",
        _acting(interventions.order_compensate),
        lambda order, now, arguments: refusals.compensate(order, now),
        undoes=True,
    ),
    BulkAction(
        "cancel",
        "Cancel",
        "fulfillment.cancel_order",
        _acting(interventions.order_cancel),
        _cancel_refusal,
        undoes=True,
    ),
    BulkAction(
        "resolve",
        "Resolve attention",
        "fulfillment.resolve_order_attention",
        _acting(interventions.order_resolve_attention),
        lambda order, now, arguments: refusals.resolve(order),
    ),
    BulkAction(
        "migrate",
        "Move to workflow version",
        "fulfillment.migrate_order_version",
        _acting(interventions.order_migrate_version, to_version=None),
        _migrate_refusal,
    ),
]


def register_bulk_actions() -> None:
    for action in BULK_ACTIONS:
        register(LABEL, action)
