"""`manage.py bench` refuses bad noop-bench arguments with a clear error, before it runs anything."""

import pytest
from django.core.management import CommandError, call_command

from fulfillment.proving import benchmarks, dbos_peer, noop_compare
from fulfillment.proving.models import NoopProcess


@pytest.fixture(autouse=True)
def nothing_runs(monkeypatch):
    """Any bench that started would fail the test loudly."""

    def started(*args, **kwargs):
        raise AssertionError("the bench started although its arguments were refused")

    for module, name in [(noop_compare, "noop_bench_run"), (benchmarks, "bare_queue")]:
        monkeypatch.setattr(module, name, started)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--peer", "dbos"], "--peer runs beside the noop workflow: add --workflow noop."),
        (["--workflow", "orders"], "--workflow must be one of noop, not 'orders'."),
        (["--workflow", "noop", "--peer", "foo"], "--peer must be one of dbos, not 'foo'."),
        (["--workflow", "noop", "--rounds", "0"], "--rounds must be at least 1, not 0."),
        (["--workflow", "noop", "--workflows", "0"], "--workflows must be between 1 and 1000000, not 0."),
        (["--workflow", "noop", "--peer", "dbos", "--peer-polling", "0"], "--peer-polling must be positive"),
        (["--workflow", "noop", "--workers", "1"], "--workers must be at least 2"),
    ],
)
@pytest.mark.django_db
def test_a_bad_argument_is_refused_with_what_is_wrong(arguments, message):
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(".", r"\.")):
        call_command("bench", *arguments)
    assert not NoopProcess.objects.exists()


@pytest.mark.django_db
def test_the_dbos_peer_without_dbos_installed_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(dbos_peer, "installed", lambda: False)
    with pytest.raises(CommandError, match=r"--peer dbos needs DBOS Transact: pip install -e '\.\[bench\]'"):
        call_command("bench", "--workflow", "noop", "--peer", "dbos")
