"""The simulators' settings, read at call time so tests can change them with override_settings.

`SIMULATORS` in settings may name only some keys; the rest take the defaults below (no faults).
A system check refuses values that would make the random faults meaningless, and services it
does not know (SIM_OUTAGE and SIM_DEGRADED from the environment land here unchecked: the
settings do not import the simulators). Every management command runs the check first.
"""

from django.core.checks import Error, register

from processes.app_settings import AppSettings

# The values of models.Service, repeated here so that checking the settings loads no models.
SERVICES = ("payment", "carrier", "mail")
DEFAULTS = {
    "TRANSIENT_ERROR_RATE": 0.0,
    "AMBIGUOUS_TIMEOUT_RATE": 0.0,
    "LATENCY_MS": 0,
    "OUTAGE": [],
    # {service: share of its calls it refuses, transiently, on top of TRANSIENT_ERROR_RATE}:
    # a degraded service that still answers the rest.
    "DEGRADED": {},
}
_RATES = ("TRANSIENT_ERROR_RATE", "AMBIGUOUS_TIMEOUT_RATE")


SETTINGS = AppSettings("SIMULATORS", DEFAULTS)
simulator_setting = SETTINGS.get  # one key of `settings.SIMULATORS`, or its default


@register()
def check_simulator_settings(app_configs, **kwargs) -> list[Error]:
    errors = []
    for name in SETTINGS.unknown():
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
    return (
        errors + _outage_errors(simulator_setting("OUTAGE")) + _degraded_errors(simulator_setting("DEGRADED"))
    )


def _degraded_errors(degraded) -> list[Error]:
    sound = isinstance(degraded, dict) and all(
        name in SERVICES and isinstance(rate, int | float) and 0 <= rate <= 1
        for name, rate in degraded.items()
    )
    if sound:
        return []
    message = (
        f"SIMULATORS['DEGRADED'] (SIM_DEGRADED)={degraded!r} must map services among "
        f"{', '.join(SERVICES)} to a share of calls from 0 to 1, e.g. carrier:0.3."
    )
    return [Error(message, id="simulators.E005")]


def _outage_errors(outage) -> list[Error]:
    if isinstance(outage, list | tuple) and all(name in SERVICES for name in outage):
        return []
    message = (
        f"SIMULATORS['OUTAGE'] (SIM_OUTAGE)={outage!r} must be a list of services among "
        f"{', '.join(SERVICES)}, comma-separated in SIM_OUTAGE."
    )
    return [Error(message, id="simulators.E004")]
