"""Two workers tapping claim at the same moment: one wins, the other is told it is taken.

As in Django's select_for_update tests: a second connection holds the order's row lock while
two threads, each on its own connection, run the claim; both block; then the lock goes.
"""

import threading
import time

from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from fulfillment.errors import PickTaskTaken
from fulfillment.models import Order, PickTask
from fulfillment.picking.tasks import pick_task_claim, pick_task_confirm, pick_task_release
from fulfillment.simulators.picker import exact_pick
from processes.models.journal import ProcessEvent
from tests.conftest import ENGINE_DB
from tests.fulfillment.picking.conftest import fresh

pytestmark = ENGINE_DB


def test_simultaneous_claims_have_exactly_one_winner(task, alice, bob):
    outcomes: dict[str, str] = {}

    def claim(worker):
        try:
            pick_task_claim(task_id=task.pk, worker=worker)
            outcomes[worker.username] = "won"
        except PickTaskTaken as refusal:
            outcomes[worker.username] = str(refusal)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=claim, args=(worker,)) for worker in (alice, bob)]
    with transaction.atomic():
        Order.objects.select_for_update().get(pk=task.order_id)
        for thread in threads:
            thread.start()
        wait_until_blocked(2)
    for thread in threads:
        thread.join(timeout=10)

    winner = fresh(task).assignee.username
    loser = ({"alice", "bob"} - {winner}).pop()
    assert outcomes == {winner: "won", loser: f"Someone else has this task: {winner} claimed it."}
    assert fresh(task).status == PickTask.Status.CLAIMED
    claims = ProcessEvent.objects.filter(process_id=task.order_id, reason__startswith="pick claimed by")
    assert list(claims.values_list("actor", flat=True)) == [winner]


def wait_until_blocked(sessions: int, timeout: float = 10.0) -> None:
    """Wait until `sessions` other connections wait on a row lock in this database.

    pg_stat_activity is snapshotted once per transaction: clear the snapshot before each look.
    """
    query = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(query)
            if cursor.fetchone()[0] >= sessions:
                return
            assert time.monotonic() < deadline, "the claims never reached the lock"
            time.sleep(0.02)


def test_every_action_locks_the_order_before_the_task(task, alice):
    """The project's one lock order, process row first: no deadlock with the engine's timers."""
    actions = [
        lambda: pick_task_claim(task_id=task.pk, worker=alice),
        lambda: pick_task_release(task_id=task.pk, worker=alice),
        lambda: pick_task_claim(task_id=task.pk, worker=alice),
        lambda: pick_task_confirm(task_id=task.pk, worker=alice, picked=exact_pick(task.pk)),
    ]
    for action in actions:
        with CaptureQueriesContext(connection) as queries:
            action()
        locked = [q["sql"].split(" FROM ")[1].split()[0] for q in queries if "FOR UPDATE" in q["sql"]]
        assert locked[:2] == ['"fulfillment_order"', '"fulfillment_picktask"'], locked
