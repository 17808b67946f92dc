"""System checks that refuse a misconfigured engine before any worker starts."""

import math

from django.conf import settings
from django.core.checks import Error, Tags, register

from processes import conf
from processes.sweeper_process import BACKOFF_MAX
from processes.workflow import registry


@register()
def check_engine_settings(app_configs=None, **kwargs):
    errors = []
    values = conf.SETTINGS.values()
    for key in conf.SETTINGS.unknown():
        errors.append(Error(f"PROCESSES[{key!r}] is not a setting of the engine.", id="processes.E001"))
    for key, default in conf.DEFAULTS.items():
        if isinstance(default, str):
            errors.extend(_check_url(key, values[key]))
        elif not _valid(values[key], whole=isinstance(default, int)):
            kind = "a positive number, whole" if isinstance(default, int) else "a positive number"
            errors.append(
                Error(
                    f"PROCESSES[{key!r}]={values[key]!r} must be {kind} (default {default}).",
                    id="processes.E002",
                )
            )
    if not errors:
        errors.extend(_check_queue_timeouts(values))
        errors.extend(_check_outbox_retries(values))
        errors.extend(_check_sweeper_wedge(values))
    return errors


def _check_sweeper_wedge(values) -> list[Error]:
    """A live sweeper is silent for a whole pause (BACKOFF_MAX while it backs off) or a whole
    email send (EMAIL_TIMEOUT; it beats between emails): the limit must leave twice the longer,
    or a live sweeper is killed as wedged."""
    limit = values["SWEEPER_WEDGE_AFTER"]
    email = float(getattr(settings, "EMAIL_TIMEOUT", None) or 0)
    longest = max(values["SWEEP_INTERVAL"], BACKOFF_MAX, email)
    if limit >= 2 * longest:
        return []
    message = (
        f"PROCESSES['SWEEPER_WEDGE_AFTER']={limit} must be at least twice the sweeper's longest "
        f"silence ({longest:g} s: SWEEP_INTERVAL, BACKOFF_MAX after failures, or EMAIL_TIMEOUT "
        f"for one email's send)."
    )
    return [Error(message, id="processes.E010")]


def _check_outbox_retries(values) -> list[Error]:
    first, cap = values["OUTBOX_RETRY_FIRST"], values["OUTBOX_RETRY_MAX"]
    if first <= cap:
        return []
    message = f"PROCESSES['OUTBOX_RETRY_MAX']={cap} must be at least OUTBOX_RETRY_FIRST={first}."
    return [Error(message, id="processes.E008")]


def _check_url(key: str, value) -> list[Error]:
    """A Redis URL, or '' for none."""
    if value == "" or (isinstance(value, str) and value.startswith(("redis://", "rediss://", "unix://"))):
        return []
    message = f"PROCESSES[{key!r}]={value!r} must be a redis://, rediss:// or unix:// URL, or '' for none."
    return [Error(message, id="processes.E003")]


def _valid(value, *, whole: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if whole and not isinstance(value, int):
        return False
    return math.isfinite(value) and value > 0


def _check_queue_timeouts(values):
    q = getattr(settings, "Q_CLUSTER", {})
    timeout, retry = q.get("timeout"), q.get("retry", 60)
    errors = []
    for name, value in (("timeout", timeout), ("retry", retry)):
        if value is not None and not _valid(value, whole=False):
            errors.append(
                Error(
                    f"Q_CLUSTER[{name!r}]={value!r} must be a positive number of seconds.",
                    id="processes.E006",
                )
            )
    if errors:
        return errors
    if timeout is None:
        errors.append(
            Error("Q_CLUSTER['timeout'] must be set: a hung task would hold a worker.", id="processes.E003")
        )
        return errors
    longest = max(values["SWEEPER_RUN_SECONDS"], values["CHAIN_SECONDS"])
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


@register()
def check_circuit_cooldowns(app_configs=None, **kwargs):
    """Refuse a circuit whose cool-downs, read from the settings, do not fit: the recipe could
    not check them when it was imported, as they are read only when the circuit opens."""
    errors = {}
    for workflow in registry.all():
        for step in workflow.steps:
            if step.circuit is not None and step.circuit.reads_settings():
                where = f"{workflow.model} step {step.name!r}"
                if problem := _cooldown_problem(step.circuit):
                    errors[where] = Error(f"The circuit of {where}: {problem}", id="processes.E009")
    return list(errors.values())


def _cooldown_problem(policy) -> str:
    """What is wrong with the policy's cool-downs as they read now, or ''."""
    try:
        cooldown, cap = policy.cooldowns()
    except Exception as error:  # a setting that is missing, or a function that fails
        return f"its cool-downs cannot be read ({type(error).__name__}: {error})."
    if _valid(cooldown, whole=False) and _valid(cap, whole=False) and cooldown <= cap:
        return ""
    return f"its cool-down ({cooldown!r} s) and cap ({cap!r} s) must be positive, the cap no shorter."


@register(Tags.database)
def check_versions_in_use(app_configs=None, databases=None, **kwargs):
    """Refuse to start when in-flight processes run on a workflow version whose code is gone.

    Such a process could never take another step. A database check, as Django runs those:
    by `migrate` (every deploy and `make run` start with it) and `check --database default`.
    Skipped quietly when the tables do not exist yet.
    """
    from django.db import DatabaseError

    from processes.versions import in_flight

    if not databases or "default" not in databases:
        return []
    try:
        rows = [row for row in in_flight() if not row.registered]
    except DatabaseError:
        return []
    missing: dict[tuple[str, int], int] = {}
    for row in rows:
        missing[(row.label, row.version)] = missing.get((row.label, row.version), 0) + row.count
    return [
        Error(
            f"{count} in-flight {label} process(es) run on workflow v{version}, which is no longer "
            "registered: they could never take another step.",
            hint=f"Keep v{version} of the workflow registered until `manage.py workflow_versions` shows "
            f"none in flight, or migrate them to a newer version first.",
            id="processes.E007",
        )
        for (label, version), count in sorted(missing.items())
    ]
