"""System checks that refuse misconfigured return settings before anything starts.

The environment already refuses a bad value it reads (fulfillment.environment); these catch a
settings module that sets one directly, as they would a deployment's typo.
"""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.checks import Error, register

# Setting: (unit, smallest allowed). Each is a whole number.
WHOLE_NUMBERS = {
    "RETURN_WINDOW_DAYS": ("days", 1),
    "RETURN_PARCEL_DEADLINE_DAYS": ("days", 1),
    "RETURN_INSPECTION_TIMEOUT": ("seconds", 1),
    "RETURN_APPROVAL_TIMEOUT": ("seconds", 1),
}


@register()
def check_return_settings(app_configs=None, **kwargs):
    errors = []
    for name, (unit, smallest) in WHOLE_NUMBERS.items():
        value = getattr(settings, name, None)
        if isinstance(value, bool) or not isinstance(value, int) or value < smallest:
            errors.append(
                Error(
                    f"{name}={value!r} must be a whole number of {unit}, at least {smallest}.",
                    id="fulfillment.E121",
                )
            )
    threshold = getattr(settings, "RETURN_APPROVAL_THRESHOLD", None)
    if not _non_negative_amount(threshold):
        errors.append(
            Error(
                f"RETURN_APPROVAL_THRESHOLD={threshold!r} must be an amount of at least 0 "
                "(returns worth more wait for an operator's approval).",
                id="fulfillment.E122",
            )
        )
    return errors


def _non_negative_amount(value) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return False
    try:
        return Decimal(str(value)).is_finite() and Decimal(str(value)) >= 0
    except InvalidOperation:
        return False
