"""System checks that refuse misconfigured pick thresholds before anything starts."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from fulfillment.picking import conf


@register()
def check_warehouse_settings(app_configs=None, **kwargs):
    values = conf.values()
    errors = [
        Error(f"WAREHOUSE[{key!r}] is not a setting of the warehouse pages.", id="fulfillment.E101")
        for key in conf.SETTINGS.unknown()
    ]
    timeout = getattr(settings, "PICK_TIMEOUT", None)
    if not _positive_whole(timeout):
        errors.append(
            Error(
                f"PICK_TIMEOUT={timeout!r} must be a whole number of seconds, at least 1.",
                id="fulfillment.E102",
            )
        )
    for key in conf.DURATIONS:
        errors.extend(_check_duration(key, values[key], timeout))
    if not _is_email(values["SHIFT_LEAD_EMAIL"]):
        errors.append(
            Error(
                f"{_name('SHIFT_LEAD_EMAIL')}={values['SHIFT_LEAD_EMAIL']!r} is not an email address.",
                id="fulfillment.E105",
            )
        )
    return errors


def _check_duration(key, value, timeout) -> list[Error]:
    if not _positive_whole(value):
        message = f"{_name(key)}={value!r} must be a whole number of seconds, at least 1."
        return [Error(message, id="fulfillment.E103")]
    if _positive_whole(timeout) and value >= timeout:
        message = (
            f"{_name(key)}={value} must be shorter than PICK_TIMEOUT={timeout}: "
            "it would never fire before the final deadline."
        )
        return [Error(message, id="fulfillment.E104")]
    return []


def _name(key: str) -> str:
    return f"WAREHOUSE[{key!r}] (environment: {conf.ENVIRONMENT[key]})"


def _positive_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_email(value) -> bool:
    try:
        validate_email(value)
    except (ValidationError, TypeError):
        return False
    return True
