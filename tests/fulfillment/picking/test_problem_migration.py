"""Migration 0009 settles the problems reported before the rule: only a problem on a task still
open whose order still needs attention stays open (a done task with one is the issue's case,
which the new constraint no longer lets us write, so it is not made here)."""

import importlib

from django.apps import apps

from fulfillment.models import Order, PickProblem, PickTask
from processes import clock
from tests.conftest import ENGINE_DB
from tests.fulfillment.picking.conftest import fresh, order_waiting_for_pick

pytestmark = ENGINE_DB
migration = importlib.import_module("fulfillment.migrations.0009_pick_problem_open_until_resolved")


def reported(**order_fields) -> PickTask:
    order = order_waiting_for_pick()
    Order.objects.filter(pk=order.pk).update(**order_fields)
    task = PickTask.objects.get(order=order)
    PickTask.objects.filter(pk=task.pk).update(problem=PickProblem.MISSING, problem_reported_at=clock.now())
    return fresh(task)


def test_only_a_problem_still_waiting_for_an_operator_stays_open(catalogue):
    waiting = reported(needs_attention=True)
    resolved_before = reported(needs_attention=False)
    cancelled = reported(needs_attention=False)
    PickTask.objects.filter(pk=cancelled.pk).update(status=PickTask.Status.CANCELLED)
    untouched = PickTask.objects.get(order=order_waiting_for_pick())

    migration.earlier_problems_were_settled(apps, None)

    assert fresh(waiting).has_open_problem
    assert fresh(resolved_before).problem_resolved_at == resolved_before.problem_reported_at
    assert not fresh(cancelled).has_open_problem
    assert fresh(untouched).problem_resolved_at is None
