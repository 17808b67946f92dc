"""The simulators' settings, read at call time so tests can change them with override_settings.

`SIMULATORS` in settings may name only some keys; the rest take the defaults below (no faults).
A system check refuses values that would make the random faults meaningless. This module is
also imported by settings.py (for `outage_services`), so it must not import models.
"""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

# The values of models.Service, repeated here because settings cannot import models.
SERVICES = ("payment", "carrier", "mail")
DEFAULTS = {"TRANSIENT_ERROR_RATE": 0.0, "AMBIGUOUS_TIMEOUT_RATE": 0.0, "LATENCY_MS": 0, "OUTAGE": []}
_RATES = ("TRANSIENT_ERROR_RATE", "AMBIGUOUS_TIMEOUT_RATE")


def simulator_setting(name: str):
    """Return one key of `settings.SIMULATORS`, or its default."""
    return {**DEFAULTS, **getattr(settings, "SIMULATORS", {})}[name]


def outage_services(variable: str, names: list[str]) -> list[str]:
    """The services an environment variable takes down for good; an unknown name stops start-up."""
    for name in names:
        if name not in SERVICES:
            raise ImproperlyConfigured(
                f"{variable} names an unknown service {name!r}: use {', '.join(SERVICES)}, comma-separated."
            )
    return list(dict.fromkeys(names))


@register()
def check_simulator_settings(app_configs, **kwargs) -> list[Error]:
    errors = []
    configured = getattr(settings, "SIMULATORS", {})
    for name in configured.keys() - DEFAULTS.keys():
        errors.append(Error(f"SIMULATORS has an unknown key {name!r}.", id="simulators.E001"))
    for name in _RATES:
        value = simulator_setting(name)
        if not isinstance(value, int | float) or not 0 <= value <= 1:
            errors.append(
                Error(f"SIMULATORS[{name!r}]={value!r} must be a number from 0 to 1.", id="simulators.E002")
            )
    latency = simulator_setting("LATENCY_MS")
    if not isinstance(latency, int | float) or latency < 0:
        errors.append(
            Error(f"SIMULATORS['LATENCY_MS']={latency!r} must be a number of ms >= 0.", id="simulators.E003")
        )
    return errors + _outage_errors(simulator_setting("OUTAGE"))


def _outage_errors(outage) -> list[Error]:
    if isinstance(outage, list | tuple) and all(name in SERVICES for name in outage):
        return []
    message = f"SIMULATORS['OUTAGE']={outage!r} must be a list of services among {', '.join(SERVICES)}."
    return [Error(message, id="simulators.E004")]
