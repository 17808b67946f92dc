"""The preview of a bulk operation promises what the action then does, in money and goods."""

from collections import Counter
from decimal import Decimal

from fulfillment.bulk_actions import LABEL
from processes.bulk import bulk_run, bulk_start
from processes.bulk_preview import bulk_preview
from processes.models.bulk import ItemOutcome
from tests.conftest import ENGINE_DB
from tests.fulfillment.bulk.helpers import (
    OLGA,
    completed_orders,
    ledgers,
    orders_waiting_for_pick,
    preview_orders,
    reserved_units,
    run_to_rest,
)

pytestmark = ENGINE_DB


def test_compensate_preview_equals_what_the_simulators_then_record(catalogue):
    """Refund total, labels voided and units released, as the preview gives them, are what the
    payment simulator, the carrier simulator and the stock show afterwards; the completed order
    is refused with the reason the action gives."""
    done = completed_orders(1)  # first: the simulated picker picks every open task
    waiting = orders_waiting_for_pick(3) + orders_waiting_for_pick(1, lines=[("TEE-042", 4)])
    orders = waiting + done
    before, reserved_before = ledgers(waiting), reserved_units(catalogue)

    preview = bulk_preview(label=LABEL, action="compensate", processes=preview_orders(orders))

    assert (preview.total, preview.will_act, preview.refused) == (5, 4, 1)
    assert preview.refusal_rows() == [("is completed: there is nothing to compensate", 1)]
    figures = preview.as_dict()
    assert figures["undo"] == {
        "label voided": {"SIMPOST": "4"},
        "mail not sent": {"confirmation": "4"},
        "pick task cancelled": {"MAIN": "4"},
        "refund": {"EUR": str(before["charged"])},
        "units released": {"MUG-001": "6", "TEE-042": "7"},
    }

    operation = bulk_start(
        label=LABEL, action="compensate", process_ids=preview.ids, actor=OLGA, reason="warehouse flooded"
    )
    bulk_run(operation.pk)
    after = ledgers(run_to_rest(waiting))

    assert after["refunded"] - before["refunded"] == Decimal(figures["undo"]["refund"]["EUR"])
    assert after["voided labels"] - before["voided labels"] == 4
    released = reserved_before - reserved_units(catalogue)
    assert {sku: str(n) for sku, n in released.items()} == figures["undo"]["units released"]
    outcomes = Counter(operation.items.values_list("outcome", flat=True))
    assert outcomes == {ItemOutcome.DONE: preview.will_act, ItemOutcome.REFUSED: preview.refused}


def test_preview_refusals_are_the_actions_own_words(catalogue):
    """For every action, an order the preview refuses is refused by the action with the same
    reason (the action's message is the order's name and that reason)."""
    [done] = completed_orders(1)
    for action in ("retry", "compensate", "cancel", "resolve", "migrate"):
        preview = bulk_preview(label=LABEL, action=action, processes=preview_orders([done]))
        [(reason, count)] = preview.refusal_rows()
        operation = bulk_start(label=LABEL, action=action, process_ids=[done.pk], actor=OLGA, reason="check")
        bulk_run(operation.pk)
        item = operation.items.get()
        assert item.outcome == ItemOutcome.REFUSED, action
        assert item.message == f"Order {done.pk} {reason}.", action
