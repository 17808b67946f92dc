"""Orders driven by real `qcluster` worker processes, through both brokers and through failures.

Each test starts a cluster against the test database (see conftest), places orders with
committed data and polls the database until they come to rest; the ledgers of the simulated
services then show what was really done, and how often.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from fulfillment.models import Order, OrderState
from fulfillment.simulators.carrier import labels
from fulfillment.simulators.faults import fault_add
from fulfillment.simulators.models import SentMail
from processes import conf
from processes.models.journal import AttemptOutcome, EventKind, ProcessEvent, StepAttempt
from processes.models.process import RunStatus
from tests.cluster.conftest import manage, wait_for
from tests.conftest import ENGINE_DB
from tests.factories import payment_ledger, place_order

pytestmark = [pytest.mark.cluster, ENGINE_DB]

STEPS = ["charge_payment", "reserve_inventory", "create_label", "pick", "send_confirmation"]
PLACE_THREE_ORDERS = (
    "from tests.factories import place_order\nfor _ in range(3): print('placed', place_order().pk)"
)


def at_rest(*orders: Order) -> bool:
    """Every order finished or waits for an operator: nothing more will happen by itself."""
    ids = [order.pk for order in orders]
    moving = Order.objects.filter(pk__in=ids).exclude(run_status=RunStatus.FINISHED)
    return not moving.exclude(needs_attention=True).exists()


def assert_fulfilled_once(order: Order) -> None:
    """Completed, charged exactly once, one live label, one confirmation mail."""
    order.refresh_from_db()
    assert (order.state, order.run_status, order.needs_attention) == (
        OrderState.COMPLETED,
        RunStatus.FINISHED,
        False,
    ), f"order {order.pk} is {order.state}/{order.run_status}: {order.last_error or order.attention_reason}"
    assert payment_ledger(order) == {"charged": order.total, "refunded": 0, "charges": 1, "refunds": 0}
    assert labels(str(order.pk)) == {"live": 1, "voided": 0}
    assert SentMail.objects.filter(reference=str(order.pk)).count() == 1


def charge_attempts(order: Order) -> list[StepAttempt]:
    return list(StepAttempt.objects.filter(process_id=order.pk, step="charge_payment"))


def test_orders_complete_on_the_orm_broker(catalogue, start_cluster):
    """Orders placed while a two-worker cluster runs on the ORM broker all complete, each step
    attempted once, each order charged once with one live label and one confirmation."""
    start_cluster()
    orders = [place_order() for _ in range(3)]

    wait_for(lambda: at_rest(*orders), what="three orders to come to rest")

    for order in orders:
        assert_fulfilled_once(order)
        attempts = StepAttempt.objects.filter(process_id=order.pk)
        assert sorted(attempts.values_list("step", flat=True)) == sorted(STEPS)
        assert set(attempts.values_list("outcome", flat=True)) == {AttemptOutcome.SUCCEEDED}


def test_orders_complete_on_the_redis_broker(redis_url, catalogue, start_cluster):
    """With REDIS_URL set for every process (cluster, the process placing orders, the picker),
    wake-ups travel through Redis, not the ORM queue, and every order completes once."""
    cluster = start_cluster(picker=True, REDIS_URL=redis_url)

    placed = manage("shell", "-c", PLACE_THREE_ORDERS, env=cluster.env)
    orders = list(Order.objects.filter(pk__in=re.findall(r"placed ([0-9a-f-]{36})", placed)))
    assert len(orders) == 3, placed
    wait_for(lambda: at_rest(*orders), what="three orders to come to rest", pick=False)

    for order in orders:
        assert_fulfilled_once(order)
        assert StepAttempt.objects.filter(process_id=order.pk).count() == len(STEPS)
    assert not OrmQ.objects.exists()


def test_sweeper_redelivers_a_lost_wakeup(catalogue, start_cluster):
    """An order whose wake-up vanished from the queue before any worker saw it, and was sent
    longer than REDELIVER_AFTER ago, is woken by the sweeper loop and completes."""
    order = place_order()
    assert OrmQ.objects.count() == 1  # the order's wake-up
    OrmQ.objects.all().delete()
    lost_since = timezone.now() - timedelta(seconds=conf.get("REDELIVER_AFTER") + 1)
    Order.objects.filter(pk=order.pk).update(enqueued_at=lost_since)

    cluster = start_cluster()
    wait_for(lambda: at_rest(order), what="the order with the lost wake-up to come to rest")

    assert_fulfilled_once(order)
    assert "sweeper woke 1 fulfillment.order" in cluster.log()


def test_order_survives_a_cluster_killed_mid_charge(catalogue, start_cluster):
    """SIGKILL of the whole cluster while a worker is inside the (slow) charge call: a restarted
    cluster notices the expired lease within seconds of its end, records the attempt as
    abandoned, retries it with the same idempotency key and completes the order with one
    charge, one live label and one mail."""
    crashing = start_cluster(SIM_LATENCY_MS="1500")
    order = place_order()
    charging = {"process_id": order.pk, "step": "charge_payment", "outcome": AttemptOutcome.RUNNING}
    wait_for(lambda: StepAttempt.objects.filter(**charging).exists(), what="the charge to start")

    crashing.kill()
    order.refresh_from_db()
    assert order.lease_owner and StepAttempt.objects.filter(**charging).exists()
    lease_until = order.lease_until
    start_cluster()
    lease_left = max((lease_until - timezone.now()).total_seconds(), 0)
    wait_for(lambda: at_rest(order), what="the order to recover", timeout=lease_left + 30)

    assert_fulfilled_once(order)
    key = f"fulfillment.order:{order.pk}:charge_payment"
    abandoned, succeeded = charge_attempts(order)
    assert (abandoned.outcome, abandoned.error_class, abandoned.idempotency_key) == (
        AttemptOutcome.ABANDONED,
        "LeaseExpired",
        key,
    )
    assert (succeeded.outcome, succeeded.idempotency_key) == (AttemptOutcome.SUCCEEDED, key)
    assert ProcessEvent.objects.filter(process_id=order.pk, kind=EventKind.LEASE_EXPIRED).count() == 1
    noticed_after = (abandoned.finished_at - lease_until).total_seconds()
    assert noticed_after <= 5, f"the expired lease was noticed {noticed_after:.1f}s after it ran out"


def test_short_retry_is_picked_up_promptly(catalogue, start_cluster):
    """A charge refused once as unavailable is retried after its backoff (at most 1 s for the
    first retry) and no later than 2.5 s past it: the sweeper loop wakes due retries promptly."""
    fault_add(service="payment", operation="charge", mode="unavailable", times=1)
    start_cluster()
    order = place_order()

    wait_for(lambda: at_rest(order), what="the order to come to rest")

    assert_fulfilled_once(order)
    failed, succeeded = charge_attempts(order)
    assert (failed.outcome, failed.error_class) == (
        AttemptOutcome.FAILED,
        "fulfillment.gateways.ServiceUnavailable",
    )
    assert succeeded.outcome == AttemptOutcome.SUCCEEDED
    retry = ProcessEvent.objects.get(process_id=order.pk, kind=EventKind.RETRY_SCHEDULED)
    delay = float(re.search(r"next attempt in ([\d.]+)s", retry.reason).group(1))
    assert delay <= 1.0
    due = failed.finished_at + timedelta(seconds=delay)
    assert due - timedelta(seconds=0.05) <= succeeded.started_at <= due + timedelta(seconds=2.5)
