"""`manage.py profile_noop` runs no-op workflows in-process and reports the engine's cost."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fulfillment.proving.models import NoopProcess, NoopState
from processes.workflow import registry
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB


@pytest.fixture(autouse=True)
def registry_restored(monkeypatch):
    """The command registers the noop workflow; other tests must not see it."""
    monkeypatch.setattr(registry, "_workflows", dict(registry._workflows))


def test_it_runs_each_workflow_to_its_end_and_counts_its_cost():
    """Every workflow finishes; a no-op workflow takes 12 statements and 6 commits."""
    out = StringIO()
    call_command("profile_noop", "--workflows", "3", stdout=out)
    result = json.loads(out.getvalue())

    assert (result["workflows"], result["finished"]) == (3, 3)
    assert (result["statements_per_workflow"], result["commits_per_workflow"]) == (12, 6)
    assert result["client_cpu_ms_per_workflow"] > 0 and result["backend_cpu_ms_per_workflow"] >= 0
    assert set(NoopProcess.objects.values_list("state", flat=True)) == {NoopState.DONE}


def test_a_profile_is_written_where_asked(tmp_path):
    """--profile FILE leaves a cProfile of the measured run."""
    target = tmp_path / "noop.prof"
    call_command("profile_noop", "--workflows", "1", "--profile", str(target), stdout=StringIO())
    assert target.stat().st_size > 0


@pytest.mark.parametrize("count", ["0", "100001"])
def test_a_count_out_of_range_is_refused(count):
    """A count it cannot run is a clear error, and nothing runs."""
    with pytest.raises(CommandError, match="--workflows must be between 1 and 100000"):
        call_command("profile_noop", "--workflows", count, stdout=StringIO())
    assert not NoopProcess.objects.exists()


def test_the_order_workflow_is_counted_by_part(tmp_path):
    """--workflow order places orders through the API, runs and picks them to their end, and
    counts the web, the worker and the picker apart, each with a profile of its own."""
    out = StringIO()
    target = tmp_path / "order.prof"
    call_command(
        "profile_noop", "--workflow", "order", "--workflows", "2", "--profile", str(target), stdout=out
    )
    result = json.loads(out.getvalue())

    assert (result["orders"], result["completed"]) == (2, 2)
    for part in ("web", "worker", "picker"):
        assert result[part]["statements_per_order"] > 0 and result[part]["client_cpu_ms_per_order"] > 0
        assert (tmp_path / f"order.prof.{part}").stat().st_size > 0
    assert result["worker"]["commits_per_order"] > result["picker"]["commits_per_order"] > 0
