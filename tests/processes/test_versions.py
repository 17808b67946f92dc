"""Workflow versions: each process runs on the version it started with; new ones start on the
newest for the rollout's share of keys, decided by a stable hash bucket."""

import pytest
from django.core.checks import run_checks
from django.core.management import call_command

from fulfillment.models import Order, OrderState
from fulfillment.workflow import ORDER_WORKFLOW, ORDER_WORKFLOW_V2
from processes import clock
from processes.models.journal import StepAttempt
from processes.models.rollout import RolloutSetting
from processes.versions import in_flight, rollout_bucket, version_for_new
from processes.workflow import Registry, Workflow, registry
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order

LABEL = "fulfillment.order"


def set_rollout(percent: int) -> None:
    RolloutSetting.objects.update_or_create(workflow=LABEL, defaults={"percent": percent})


def test_registry_keeps_every_version_and_finds_the_newest():
    """Both order versions are registered; lookups are by label and version."""
    assert registry.versions(LABEL) == [1, 2]
    assert registry.for_model(LABEL, 1) is ORDER_WORKFLOW
    assert registry.for_model("fulfillment.Order", 2) is ORDER_WORKFLOW_V2
    assert registry.newest(LABEL) is ORDER_WORKFLOW_V2
    with pytest.raises(
        LookupError, match=r"No workflow v7 registered for 'fulfillment.order' \(registered: v1, v2\)"
    ):
        registry.for_model(LABEL, 7)


def test_a_version_cannot_be_registered_twice():
    """Two different definitions under one (model, version) would make lookups ambiguous."""
    mine = Registry()
    mine.register(ORDER_WORKFLOW)
    clone = Workflow(name="order", model="fulfillment.Order", steps=list(ORDER_WORKFLOW.steps), version=1)
    with pytest.raises(ValueError, match="registered twice"):
        mine.register(clone)


def test_a_migration_mapping_must_name_steps_of_the_new_version():
    with pytest.raises(ValueError, match="unknown: \\['nope'\\]"):
        Workflow(
            name="x",
            model="fulfillment.Order",
            version=2,
            steps=list(ORDER_WORKFLOW.steps),
            migrates_from={1: {"received": "nope"}},
        )


def test_the_bucket_of_a_key_never_changes():
    """The same customer lands in the same bucket, however often and in whatever case."""
    first = rollout_bucket(label=LABEL, key="ada@example.com")
    assert all(rollout_bucket(label=LABEL, key="ada@example.com") == first for _ in range(100))
    assert rollout_bucket(label=LABEL, key=" ADA@example.com ") == first
    assert 0 <= first < 100


@pytest.mark.parametrize("percent", [1, 10, 25, 50, 90])
def test_the_share_on_the_newest_is_close_to_the_setting(percent):
    """Over 20,000 keys the share of buckets under the setting is within one point of it."""
    keys = [f"customer{i}@example.com" for i in range(20_000)]
    share = sum(rollout_bucket(label=LABEL, key=k) < percent for k in keys) / len(keys) * 100
    assert abs(share - percent) < 1.0


def test_raising_the_share_only_moves_keys_from_old_to_new():
    """Every key on the newest at 20 % is still on it at 50 %: nobody goes back."""
    keys = [f"c{i}@example.com" for i in range(5_000)]
    at_20 = {k for k in keys if rollout_bucket(label=LABEL, key=k) < 20}
    at_50 = {k for k in keys if rollout_bucket(label=LABEL, key=k) < 50}
    assert at_20 < at_50


@pytest.mark.django_db
def test_without_a_setting_new_processes_stay_on_the_previous_version():
    """A deployed version takes no new process until an operator raises its share."""
    assert version_for_new(label=LABEL, key="ada@example.com") == 1
    set_rollout(100)
    assert version_for_new(label=LABEL, key="ada@example.com") == 2
    set_rollout(0)
    assert version_for_new(label=LABEL, key="ada@example.com") == 1


@ENGINE_DB
def test_at_50_percent_about_half_start_on_v2_while_v1_orders_finish_on_v1(catalogue):
    """Orders in flight on v1 complete on v1 (no fraud check) after the switch to 50 %; of the
    new orders about half start on v2, each customer on the version of their bucket."""
    with clock.frozen():
        in_flight_v1 = [place_order(email=f"old{i}@example.com") for i in range(3)]
        set_rollout(50)
        new = [place_order(email=f"new{i}@example.com", lines=(("MUG-001", 1),)) for i in range(40)]
        for order in in_flight_v1:
            order = drive(order)
            assert (order.state, order.workflow_version) == (OrderState.COMPLETED, 1)
            assert not StepAttempt.objects.filter(process_id=order.pk, step="fraud_check").exists()
    on_v2 = [o for o in new if o.workflow_version == 2]
    assert 12 <= len(on_v2) <= 28
    for order in new:
        expected = 2 if rollout_bucket(label=LABEL, key=order.email) < 50 else 1
        assert order.workflow_version == expected
    with clock.frozen():
        finished = drive(on_v2[0])
    assert finished.state == OrderState.COMPLETED and finished.workflow_version == 2
    assert (
        StepAttempt.objects.filter(process_id=finished.pk, step="fraud_check", outcome="succeeded").count()
        == 1
    )


@pytest.mark.django_db
def test_workflow_versions_lists_in_flight_processes_per_version_and_state(catalogue, capsys):
    place_order()
    set_rollout(100)
    place_order(email="b@example.com")
    place_order(email="c@example.com")
    call_command("workflow_versions")
    out = capsys.readouterr().out
    assert "fulfillment.order: registered v1, v2; newest gets 100 % of new processes" in out
    assert "  v1: 1 in flight\n    received             1\n" in out
    assert "  v2: 2 in flight\n    received             2\n" in out


@pytest.mark.django_db(databases=["default"])
def test_the_check_refuses_a_version_in_use_whose_code_is_gone(catalogue):
    """A process on an unregistered version could never run again: a clear error at start-up."""
    order = place_order()
    Order.objects.filter(pk=order.pk).update(workflow_version=9)
    errors = [e for e in run_checks(databases=["default"]) if e.id == "processes.E007"]
    assert len(errors) == 1
    assert "1 in-flight fulfillment.order process(es) run on workflow v9" in errors[0].msg
    assert [row.registered for row in in_flight() if row.version == 9] == [False]


@pytest.mark.django_db(databases=["default"])
def test_the_check_passes_when_every_version_in_use_is_registered(catalogue):
    place_order()
    assert not [e for e in run_checks(databases=["default"]) if e.id == "processes.E007"]
