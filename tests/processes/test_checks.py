"""The engine's system check refuses bad settings with a message naming the key, and accepts ours."""

import pytest

from processes.checks import check_circuit_cooldowns, check_engine_settings


def messages(errors) -> list[tuple[str, str]]:
    return [(error.id, error.msg) for error in errors]


def test_project_settings_pass():
    """The project's own PROCESSES and Q_CLUSTER settings raise no error."""
    assert check_engine_settings() == []


def test_defaults_alone_pass(settings):
    """An empty PROCESSES (every default) is valid."""
    settings.PROCESSES = {}

    assert check_engine_settings() == []


def test_unknown_key_is_named(settings):
    """A misspelt key is refused, naming it."""
    settings.PROCESSES = {**settings.PROCESSES, "SWEEP_INTERVALL": 1.0}

    assert messages(check_engine_settings()) == [
        ("processes.E001", "PROCESSES['SWEEP_INTERVALL'] is not a setting of the engine.")
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SWEEP_BATCH", 0),
        ("SWEEP_INTERVAL", -0.5),
        ("LEASE_GRACE", -1),
        ("REDELIVER_AFTER", "30"),
        ("CHAIN_STEPS", None),
        ("CHAIN_SECONDS", [20]),
        ("SWEEPER_RUN_SECONDS", True),
    ],
)
def test_non_positive_or_non_numeric_value_is_named(settings, key, value):
    """Zero, negative, text, None, a list or a boolean are refused with the key and the value."""
    settings.PROCESSES = {**settings.PROCESSES, key: value}

    errors = check_engine_settings()

    assert [error.id for error in errors] == ["processes.E002"]
    assert f"PROCESSES[{key!r}]={value!r} must be a positive number" in errors[0].msg


def test_nan_is_refused(settings):
    """NaN is not a positive number: the check names the key."""
    settings.PROCESSES = {**settings.PROCESSES, "SWEEP_INTERVAL": float("nan")}

    errors = check_engine_settings()

    assert [error.id for error in errors] == ["processes.E002"]
    assert "PROCESSES['SWEEP_INTERVAL']" in errors[0].msg


def test_chain_steps_must_be_a_whole_number(settings):
    """A number of steps that is not a whole number is refused, naming the key."""
    settings.PROCESSES = {**settings.PROCESSES, "CHAIN_STEPS": 2.5}

    errors = check_engine_settings()

    assert len(errors) == 1 and "PROCESSES['CHAIN_STEPS']" in errors[0].msg


def test_several_bad_values_are_each_reported(settings):
    """Every bad key gets its own error, so one start-up shows them all."""
    settings.PROCESSES = {"SWEEP_BATCH": 0, "LEASE_GRACE": "soon", "TYPO": 1}

    ids_and_keys = [(error.id, error.msg.split("]")[0]) for error in check_engine_settings()]

    assert sorted(ids_and_keys) == [
        ("processes.E001", "PROCESSES['TYPO'"),
        ("processes.E002", "PROCESSES['LEASE_GRACE'"),
        ("processes.E002", "PROCESSES['SWEEP_BATCH'"),
    ]


@pytest.mark.parametrize("retry", [90, 60])
def test_queue_retry_not_above_timeout_is_refused(settings, retry):
    """Q_CLUSTER retry <= timeout would let the ORM broker hand a running task to a second worker."""
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 90, "retry": retry}

    assert messages(check_engine_settings()) == [
        (
            "processes.E005",
            f"Q_CLUSTER['retry']={retry} must be larger than timeout=90, or the ORM broker "
            "hands a running task to a second worker.",
        )
    ]


def test_queue_default_retry_below_timeout_is_refused(settings):
    """Without `retry`, django-q2's default of 60 s is checked against the timeout."""
    settings.Q_CLUSTER = {key: value for key, value in settings.Q_CLUSTER.items() if key != "retry"}

    errors = check_engine_settings()

    assert [error.id for error in errors] == ["processes.E005"]
    assert "Q_CLUSTER['retry']=60" in errors[0].msg


def test_queue_timeout_must_be_set(settings):
    """A queue without a task timeout is refused, naming Q_CLUSTER['timeout']."""
    settings.Q_CLUSTER = {key: value for key, value in settings.Q_CLUSTER.items() if key != "timeout"}

    errors = check_engine_settings()

    assert [error.id for error in errors] == ["processes.E003"]
    assert "Q_CLUSTER['timeout'] must be set" in errors[0].msg


def test_queue_timeout_must_outlast_the_sweeper_loop(settings):
    """A task timeout shorter than the sweeper's run time plus 10 s is refused."""
    settings.PROCESSES = {**settings.PROCESSES, "SWEEPER_RUN_SECONDS": 85.0}
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 90, "retry": 120}

    errors = check_engine_settings()

    assert [error.id for error in errors] == ["processes.E004"]
    assert "Q_CLUSTER['timeout']=90" in errors[0].msg and "(85.0s)" in errors[0].msg


def test_outbox_retry_cap_below_the_first_delay_is_refused(settings):
    settings.PROCESSES = {**settings.PROCESSES, "OUTBOX_RETRY_FIRST": 60.0, "OUTBOX_RETRY_MAX": 30.0}

    assert messages(check_engine_settings()) == [
        ("processes.E008", "PROCESSES['OUTBOX_RETRY_MAX']=30.0 must be at least OUTBOX_RETRY_FIRST=60.0.")
    ]


@pytest.mark.parametrize(
    ("overrides", "email_timeout", "longest_pause"),
    [
        ({"SWEEPER_WEDGE_AFTER": 9.0}, 5.0, "5"),  # BACKOFF_MAX, after failed turns
        ({"SWEEPER_WEDGE_AFTER": 30.0, "SWEEP_INTERVAL": 20.0}, 10.0, "20"),
        ({"SWEEPER_WEDGE_AFTER": 30.0}, 20.0, "20"),  # one email's send, between two beats
    ],
)
def test_a_sweeper_wedge_limit_a_pause_could_reach_is_refused(
    settings, overrides, email_timeout, longest_pause
):
    """A sweeper is silent for its whole pause between two turns, or a whole email's send: a
    limit under twice the longest would kill a live sweeper as wedged."""
    settings.PROCESSES = {**settings.PROCESSES, **overrides}
    settings.EMAIL_TIMEOUT = email_timeout

    errors = check_engine_settings()

    assert [error.id for error in errors] == ["processes.E010"]
    limit = overrides["SWEEPER_WEDGE_AFTER"]
    assert f"PROCESSES['SWEEPER_WEDGE_AFTER']={limit} must be at least twice" in errors[0].msg
    assert f"({longest_pause} s:" in errors[0].msg


def test_a_sweeper_wedge_limit_of_twice_the_backoff_passes_with_emails_sent_within_the_backoff(settings):
    settings.PROCESSES = {**settings.PROCESSES, "SWEEPER_WEDGE_AFTER": 10.0}
    settings.EMAIL_TIMEOUT = 5.0

    assert check_engine_settings() == []


def test_circuit_cooldowns_read_from_the_settings_pass_as_configured():
    """The order steps' circuits read CIRCUIT_COOLDOWN and its cap; the project's values fit."""
    assert check_circuit_cooldowns() == []


def test_circuit_cooldowns_that_do_not_fit_are_refused_naming_the_step(settings):
    """A cap shorter than the cool-down (set past the settings module's own check, as a test or
    a deployment's override would) is refused at start-up, once per step, not at the first outage."""
    settings.CIRCUIT_COOLDOWN, settings.CIRCUIT_COOLDOWN_CAP = 60, 10
    errors = messages(check_circuit_cooldowns())

    assert {error_id for error_id, _ in errors} == {"processes.E009"}
    assert (
        "processes.E009",
        "The circuit of fulfillment.Order step 'create_label': its cool-down (60 s) and cap (10 s) "
        "must be positive, the cap no shorter.",
    ) in errors
    assert len(errors) == len({message for _, message in errors})


def test_a_circuit_cooldown_setting_that_is_missing_is_refused(settings):
    del settings.CIRCUIT_COOLDOWN

    (error,) = [e for e in check_circuit_cooldowns() if "'create_label'" in e.msg]
    assert error.id == "processes.E009"
    assert "its cool-downs cannot be read (AttributeError" in error.msg
