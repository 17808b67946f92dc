"""System checks that refuse a misconfigured engine before any worker starts."""

from django.conf import settings
from django.core.checks import Error, register

from processes import conf


@register()
def check_engine_settings(app_configs=None, **kwargs):
    errors = []
    values = {**conf.DEFAULTS, **getattr(settings, "PROCESSES", {})}
    for key in sorted(set(values) - set(conf.DEFAULTS)):
        errors.append(Error(f"PROCESSES[{key!r}] is not a setting of the engine.", id="processes.E001"))
    for key, default in conf.DEFAULTS.items():
        value = values[key]
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            errors.append(
                Error(
                    f"PROCESSES[{key!r}]={value!r} must be a positive number (default {default}).",
                    id="processes.E002",
                )
            )
    errors.extend(_check_queue_timeouts(values))
    return errors


def _check_queue_timeouts(values):
    q = getattr(settings, "Q_CLUSTER", {})
    timeout, retry = q.get("timeout"), q.get("retry", 60)
    errors = []
    if timeout is None:
        errors.append(
            Error("Q_CLUSTER['timeout'] must be set: a hung task would hold a worker.", id="processes.E003")
        )
        return errors
    longest = max(values["SWEEPER_RUN_SECONDS"], values["CHAIN_SECONDS"]) if _numbers(values) else 0
    if longest + 10 > timeout:
        errors.append(
            Error(
                f"Q_CLUSTER['timeout']={timeout} must exceed the sweeper's and a chain's run time "
                f"({longest}s) by at least 10 s.",
                id="processes.E004",
            )
        )
    if retry <= timeout:
        errors.append(
            Error(
                f"Q_CLUSTER['retry']={retry} must be larger than timeout={timeout}, or the ORM broker "
                "hands a running task to a second worker.",
                id="processes.E005",
            )
        )
    return errors


def _numbers(values):
    return all(isinstance(values[k], int | float) for k in ("SWEEPER_RUN_SECONDS", "CHAIN_SECONDS"))
