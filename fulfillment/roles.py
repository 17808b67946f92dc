"""The back office's roles as Django groups: operators act on orders, support only looks.

Both see every page of the operator console (view permissions on our models and on the task
queue's); only operators hold the order and return actions, the incident actions (pause, resume and redrive
a step) and may edit the catalogue.
"""

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.db.models import Q

OPERATORS, SUPPORT = "Operators", "Support"

# Apps whose rows the console shows; every model in them gets its view permission.
VISIBLE_APPS = ["fulfillment", "processes", "simulators", "django_q"]
ORDER_ACTIONS = [
    "retry_order",
    "compensate_order",
    "cancel_order",
    "skip_order_step",
    "resolve_order_attention",
    "migrate_order_version",
    "change_address",
]
# Approving or refusing, requesting, retrying, cancelling and resolving returns.
RETURN_ACTIONS = [
    "approve_return",
    "request_return",
    "retry_return",
    "cancel_return",
    "resolve_return_attention",
]
# Pausing, resuming and redriving a step for every order (the Incidents page, processes.flow).
CIRCUIT_ACTIONS = ["pause_circuit", "resume_circuit", "redrive_circuit"]
# Operators keep the catalogue, the simulators' fault rules and outage switches (for demos) and the
# workflow rollout up to date.
OPERATOR_EDITS = ["product", "warehouse", "faultrule", "outage", "rolloutsetting"]


def roles_sync() -> dict[str, Group]:
    """Create or update both groups with exactly their permissions; safe to run again."""
    view = Q(content_type__app_label__in=VISIBLE_APPS, codename__startswith="view_")
    actions = Q(content_type__app_label="fulfillment", codename__in=ORDER_ACTIONS + RETURN_ACTIONS) | Q(
        content_type__app_label="processes", codename__in=CIRCUIT_ACTIONS
    )
    edits = Q(content_type__model__in=OPERATOR_EDITS) & ~Q(codename__startswith="delete_")
    with transaction.atomic():
        operators, _ = Group.objects.get_or_create(name=OPERATORS)
        operators.permissions.set(Permission.objects.filter(view | actions | edits))
        support, _ = Group.objects.get_or_create(name=SUPPORT)
        support.permissions.set(Permission.objects.filter(view))
    return {OPERATORS: operators, SUPPORT: support}
