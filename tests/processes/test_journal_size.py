"""The journal's size stays bounded: step results are stored capped, and the attempt detail of
processes finished long ago is pruned in batches while their transitions stay."""

import threading
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction

from fulfillment.models import Order, OrderState
from processes import clock
from processes.exceptions import PayloadTooLarge
from processes.models.journal import EventKind, ProcessEvent, StepAttempt
from processes.payloads import step_payload
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order

pytestmark = ENGINE_DB


def test_a_step_result_is_stored_with_its_attempt(catalogue):
    with clock.frozen():
        order = drive(place_order())
    charge = StepAttempt.objects.get(process_id=order.pk, step="charge_payment").result
    assert charge["amount"] == "49.00" and charge["charge_id"].startswith("ch_")
    assert StepAttempt.objects.get(process_id=order.pk, step="reserve_inventory").result is None


def test_a_result_over_the_cap_is_refused_naming_the_step_and_size(settings):
    settings.PROCESSES = {**getattr(settings, "PROCESSES", {}), "MAX_PAYLOAD_BYTES": 100}
    with pytest.raises(
        PayloadTooLarge, match=r"result of step 'create_label' is 1\d\d bytes of JSON, over .* 100 bytes"
    ):
        step_payload("create_label", {"label_url": "x" * 120})


def test_an_oversized_result_stops_the_order_for_a_person_without_undoing_it(catalogue, settings):
    """Retrying would return the same result: needs-attention at once, the charge kept."""
    settings.PROCESSES = {**getattr(settings, "PROCESSES", {}), "MAX_PAYLOAD_BYTES": 40}
    with clock.frozen():
        order = drive(place_order())
    assert order.needs_attention and order.state == OrderState.RECEIVED
    assert "result of step 'charge_payment' is" in order.attention_reason
    assert StepAttempt.objects.filter(process_id=order.pk).count() == 1


def finished_long_ago(catalogue, days=100):
    with clock.frozen(clock.now() - timedelta(days=days)):
        return drive(place_order())


def test_prune_removes_attempt_detail_of_old_finished_orders_and_keeps_transitions(catalogue, capsys):
    old = [finished_long_ago(catalogue) for _ in range(3)]
    recent = drive(place_order())
    unfinished = place_order()
    transitions = {o.pk: ProcessEvent.objects.filter(process_id=o.pk, kind="transition").count() for o in old}

    call_command("prune_journal", "--older-than", "90d", "--batch-size", "2")

    out = capsys.readouterr().out
    assert "of 3 processes finished before" in out and "(2 batches); transitions kept." in out
    for order in old:
        assert not StepAttempt.objects.filter(process_id=order.pk).exists()
        assert (
            ProcessEvent.objects.filter(process_id=order.pk, kind="transition").count()
            == transitions[order.pk]
        )
        assert not ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.RETRY_SCHEDULED).exists()
    assert StepAttempt.objects.filter(process_id=recent.pk).exists()
    assert StepAttempt.objects.filter(process_id__in=[recent.pk, unfinished.pk]).count() >= 5


def test_prune_dry_run_deletes_nothing(catalogue, capsys):
    old = finished_long_ago(catalogue)
    before = StepAttempt.objects.filter(process_id=old.pk).count()
    call_command("prune_journal", "--older-than", "90d", "--dry-run")
    assert f"Would delete {before} step attempts" in capsys.readouterr().out
    assert StepAttempt.objects.filter(process_id=old.pk).count() == before


@pytest.mark.parametrize("age", ["90", "0d", "3w", "-1d"])
def test_prune_refuses_an_unclear_age(age):
    with pytest.raises(CommandError, match="--older-than must look like 90d"):
        call_command("prune_journal", f"--older-than={age}")


def test_prune_does_not_wait_for_a_locked_process_row(catalogue):
    """Another connection holds an old finished order's row lock: pruning still finishes at once."""
    old = finished_long_ago(catalogue)
    locked, release = threading.Event(), threading.Event()

    def hold_lock():
        with transaction.atomic():
            Order.objects.select_for_update().get(pk=old.pk)
            locked.set()
            release.wait(10)
        connections.close_all()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert locked.wait(10)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '2s'")
        call_command("prune_journal", "--older-than", "90d")
        assert not StepAttempt.objects.filter(process_id=old.pk).exists()
    finally:
        release.set()
        holder.join()
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = 0")
