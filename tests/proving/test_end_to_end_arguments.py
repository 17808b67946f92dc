"""`manage.py bench --end-to-end` refuses bad arguments with a clear error, before it runs anything."""

import pytest
from django.core.management import CommandError, call_command

from fulfillment.models import Order
from fulfillment.proving import benchmarks, e2e_bench, noop_compare


@pytest.fixture(autouse=True)
def nothing_runs(monkeypatch):
    """Any bench that started would fail the test loudly."""

    def started(*args, **kwargs):
        raise AssertionError("the bench started although its arguments were refused")

    for module, name in [
        (e2e_bench, "end_to_end_run"),
        (noop_compare, "noop_bench_run"),
        (benchmarks, "bare_queue"),
    ]:
        monkeypatch.setattr(module, name, started)


E2E = "--end-to-end"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            [E2E, "--rates", "ten"],
            "--rates must be orders a second separated by commas, like 10,20, not 'ten'.",
        ),
        (
            [E2E, "--rates", "10,,20"],
            "--rates must be orders a second separated by commas, like 10,20, not '10,,20'.",
        ),
        ([E2E, "--rates", ""], "--rates must be orders a second separated by commas, like 10,20, not ''."),
        ([E2E, "--rates", "10,0"], "--rates must each be above 0 and at most 1000, not 0."),
        ([E2E, "--rates", "-5"], "--rates must each be above 0 and at most 1000, not -5."),
        ([E2E, "--rates", "nan"], "--rates must each be above 0 and at most 1000, not nan."),
        ([E2E, "--rates", "5000"], "--rates must each be above 0 and at most 1000, not 5000."),
        ([E2E, "--seconds", "2"], "--seconds must be between 3 and 3600, not 2."),
        ([E2E, "--seconds", "4000"], "--seconds must be between 3 and 3600, not 4000."),
        ([E2E, "--rates", "0.5", "--seconds", "4"], "0.5 orders/s for 4 s places fewer than 3 orders"),
        ([E2E, "--ramp-step", "5"], "--ramp-step shapes the ramp: add --ramp."),
        ([E2E, "--max-rate", "50"], "--max-rate shapes the ramp: add --ramp."),
        ([E2E, "--ramp", "--ramp-step", "0"], "--ramp-step must be above 0 and at most 1000, not 0."),
        ([E2E, "--ramp", "--max-rate", "2000"], "--max-rate must be above 0 and at most 1000, not 2000."),
        (
            [E2E, "--ramp", "--ramp-start", "300"],
            "--ramp-start must be above 0 and at most --max-rate, not 300.",
        ),
        ([E2E, "--timeout", "0"], "--timeout must be between 1 and 86400 seconds, not 0."),
        ([E2E, "--workflow", "noop"], "--end-to-end places orders: it does not take --workflow."),
        ([E2E, "--workers", "1"], "--workers must be at least 2"),
        (["--rates", "10"], "--rates is an option of the end-to-end bench: add --end-to-end."),
        (["--ramp"], "--ramp is an option of the end-to-end bench: add --end-to-end."),
        (["--workflow", "noop", "--seconds", "10"], "--seconds is an option of the end-to-end bench"),
    ],
)
@pytest.mark.django_db
def test_a_bad_argument_is_refused_with_what_is_wrong(arguments, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(".", r"\.")):
        call_command("bench", *arguments)
    assert not Order.objects.exists()


def test_a_value_that_is_not_a_number_is_refused_by_name():
    with pytest.raises(CommandError, match="argument --seconds: invalid float value: 'soon'"):
        call_command("bench", E2E, "--seconds", "soon")
