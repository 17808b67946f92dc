"""`manage.py bulk_orders`: the console's preview and bulk operation, from a shell."""

import json
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from fulfillment.models import OrderState
from processes.models.bulk import BulkOperation
from tests.conftest import ENGINE_DB
from tests.fulfillment.bulk.helpers import completed_orders, orders_waiting_for_pick

pytestmark = ENGINE_DB


def bulk_orders(*args) -> str:
    out = StringIO()
    call_command("bulk_orders", *args, stdout=out)
    return out.getvalue()


def test_preview_json_gives_the_consoles_figures(ops_client, catalogue):
    completed_orders(1)
    orders_waiting_for_pick(2)
    figures = json.loads(bulk_orders("preview", "--action", "compensate", "--search", "ada", "--json"))
    page = ops_client.post(
        f"{reverse('admin:fulfillment_order_bulk')}?q=ada", {"action": "compensate", "reason": "r"}
    )

    assert figures == {"selection": "search: ada", **page.context["preview"].as_dict()}
    assert (figures["total"], figures["will_act"], figures["refused"]) == (3, 2, 1)
    assert figures["refusals"] == [{"reason": "is completed: there is nothing to compensate", "count": 1}]
    assert figures["undo"]["label voided"] == {"SIMPOST": "2"}
    assert not BulkOperation.objects.exists()


def test_run_acts_and_follows_to_the_end(catalogue):
    waiting = orders_waiting_for_pick(2)
    out = bulk_orders(
        "run",
        "--action",
        "compensate",
        "--step",
        "pick",
        "--reason",
        "flood",
        "--operator",
        "olga",
        "--in-process",
    )
    operation = BulkOperation.objects.get()
    assert out.startswith(f"bulk operation {operation.pk}: compensate of 2 orders\n")
    assert out.rstrip().endswith("compensate of 2 by olga: 2 done, 0 refused, 0 failed. Reason: flood")
    for order in waiting:
        order.refresh_from_db()
        assert order.state == OrderState.COMPENSATING


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--state", "lost"], "No state 'lost'"),
        (["--step", "dance"], "No step 'dance'"),
        (["--created-before", "yesterday"], "created before takes a date"),
        (["--created-after", "2026-12-06T10:00:00"], "give the time's zone"),
        (["--warehouse", "NOPE"], "No warehouse 'NOPE'"),
        (["--reason", " "], "Give --reason"),
        (["--state", "completed"], "No order matches"),
    ],
)
def test_bad_arguments_say_what_is_wrong_and_create_nothing(catalogue, args, message):
    if message == "No order matches":
        orders_waiting_for_pick(1)  # one order, but not a completed one
    base = ["run", "--action", "compensate", "--no-follow"]
    reason = [] if "--reason" in args else ["--reason", "r"]
    with pytest.raises(CommandError, match=message) as refused:
        bulk_orders(*base, *reason, *args)
    assert refused.value.returncode == 2
    assert not BulkOperation.objects.exists()


def test_an_unknown_action_exits_with_code_2():
    done = subprocess.run(
        [sys.executable, "manage.py", "bulk_orders", "run", "--action", "explode"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "invalid choice: 'explode'" in done.stderr
