"""/metrics: the service's figures in Prometheus' text format, behind a token or an allow-list."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from prometheus_client.parser import text_string_to_metric_families

from fulfillment.models import Order, Return
from fulfillment.ops.conf import networks
from processes import clock
from processes.flow.figures import circuit_steps
from processes.models.journal import StepAttempt
from processes.workflow import registry
from tests.conftest import ENGINE_DB
from tests.factories import drive, place_order
from tests.ops.conftest import METRICS_TOKEN
from tests.return_factories import drive_return, request_return

STEPS = ["charge_payment", "reserve_inventory", "create_label", "pick", "send_confirmation"]


def scrape(client) -> dict[str, dict[tuple, float]]:
    """name -> {sorted label items: value}, from one authorised GET /metrics."""
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("ops", "headers", "remote", "status"),
    [
        ({}, {}, "127.0.0.1", 403),
        ({"METRICS_TOKEN": METRICS_TOKEN}, {}, "127.0.0.1", 401),
        (
            {"METRICS_TOKEN": METRICS_TOKEN},
            {"HTTP_AUTHORIZATION": "Bearer wrong-token-0123456789"},
            "127.0.0.1",
            401,
        ),
        (
            {"METRICS_TOKEN": METRICS_TOKEN},
            {"HTTP_AUTHORIZATION": f"Bearer {METRICS_TOKEN}"},
            "203.0.113.9",
            200,
        ),
        ({"METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8"]}, {}, "10.1.2.3", 200),
        (
            {"METRICS_ALLOWED_NETWORKS": ["10.0.0.0/8"]},
            {"HTTP_X_FORWARDED_FOR": "10.1.2.3"},
            "203.0.113.9",
            401,
        ),
    ],
    ids=["off-by-default", "no-token", "wrong-token", "token", "allowed-address", "forwarded-header-ignored"],
)
def test_metrics_access(client, settings, ops, headers, remote, status):
    """Off until configured; then a bearer token or the client's own address, never a header it sends."""
    settings.OPS = {
        **ops,
        "METRICS_ALLOWED_NETWORKS": networks("test", ops.get("METRICS_ALLOWED_NETWORKS", [])),
    }

    assert client.get("/metrics", REMOTE_ADDR=remote, **headers).status_code == status


@ENGINE_DB
def test_metrics_count_returns_by_state(catalogue, client, metrics_settings):
    """One return completed and one waiting for its parcel: counted in their states."""
    with clock.frozen():
        order = drive(place_order())
        drive_return(request_return(order, ("MUG-001", 1)))
        drive_return(request_return(order, ("TEE-042", 1)), parcel=False)
        metrics = scrape(client)

    returns = metrics["fulfillment_returns"]
    assert returns[(("state", "completed"),)] == 1
    assert returns[(("state", "awaiting_parcel"),)] == 1
    assert returns[(("state", "cancelled"),)] == 0
    assert metrics["fulfillment_returns_needs_attention"][()] == 0


@ENGINE_DB
def test_a_forgotten_return_shows_in_the_oldest_due_work_and_a_flagged_one_is_counted(
    catalogue, client, metrics_settings
):
    """Due work is any process's: a return whose wake-up was lost ages like an order's."""
    with clock.frozen():
        order = drive(place_order())
        forgotten = request_return(order, ("MUG-001", 1))  # its first step due, never run
        flagged = drive_return(request_return(order, ("TEE-042", 1)), parcel=False)
        Return.objects.filter(pk=flagged.pk).update(needs_attention=True, next_run_at=None)
        clock.advance(timedelta(seconds=42))
        metrics = scrape(client)

    assert Return.objects.get(pk=forgotten.pk).next_run_at is not None
    assert metrics["fulfillment_oldest_due_work_age_seconds"][()] == pytest.approx(42, abs=0.1)
    assert metrics["fulfillment_returns_needs_attention"][()] == 1


@ENGINE_DB
def test_metrics_report_orders_attempts_and_durations(catalogue, client, metrics_settings):
    with clock.frozen():
        completed = drive(place_order())
        drive(place_order(token="tok_declined"))
        waiting = place_order()
        flagged = place_order()
        Order.objects.filter(pk=flagged.pk).update(needs_attention=True, next_run_at=None)
        StepAttempt.objects.filter(process_id=completed.pk, step="charge_payment").update(duration_ms=1200)
        clock.advance(timedelta(seconds=7))
        metrics = scrape(client)

    assert metrics["fulfillment_orders"][(("state", "completed"),)] == 1
    assert metrics["fulfillment_orders"][(("state", "cancelled"),)] == 1
    assert metrics["fulfillment_orders"][(("state", "received"),)] == 2
    assert metrics["fulfillment_orders"][(("state", "awaiting_pick"),)] == 0
    assert metrics["fulfillment_orders_needs_attention"][()] == 1
    # The waiting order's first step has been due (not claimed) for the 7 s the clock moved.
    assert metrics["fulfillment_oldest_due_work_age_seconds"][()] == pytest.approx(7, abs=0.1)
    assert waiting.pk
    attempts = metrics["fulfillment_step_attempts"]
    for step in STEPS:
        assert attempts[(("direction", "forward"), ("outcome", "succeeded"), ("step", step))] >= 1
    assert attempts[(("direction", "forward"), ("outcome", "failed"), ("step", "charge_payment"))] == 1
    failures = metrics["fulfillment_step_failures"]
    assert failures[(("direction", "forward"), ("step", "charge_payment"))] == 1
    assert failures[(("direction", "forward"), ("step", "create_label"))] == 0
    buckets = metrics["fulfillment_step_duration_seconds_bucket"]
    assert buckets[(("le", "1.0"), ("step", "charge_payment"))] == 1  # the declined charge
    assert buckets[(("le", "2.5"), ("step", "charge_payment"))] == 2
    assert buckets[(("le", "+Inf"), ("step", "charge_payment"))] == 2
    assert metrics["fulfillment_step_duration_seconds_gcount"][(("step", "charge_payment"),)] == 2
    assert metrics["fulfillment_queue_depth"][()] >= 2  # the two unclaimed orders' wake-ups
    assert metrics["fulfillment_sweeper_lag_seconds"][()] == float("inf")  # no sweeper in this test


@ENGINE_DB
def test_metrics_cost_the_same_queries_for_many_orders(catalogue, client, metrics_settings):
    """Aggregates over indexes, no per-order loop: 40 orders cost what 1 costs."""
    with clock.frozen():
        drive(place_order())
        with CaptureQueriesContext(connection) as one:
            scrape(client)
        for _ in range(39):
            drive(place_order())
        with CaptureQueriesContext(connection) as many:
            scrape(client)

    # Nine for the orders, returns, queue, sweeper and outbox, the oldest due work of each process
    # model (orders, returns), one for the worker clusters, one for the limits the API let pass
    # while their Redis was down; flow control reads its circuits and the recent flow keys (two),
    # who waits in each process model, then each step's health (one per step with a circuit and key).
    flow_steps, models = len(circuit_steps()), len(registry.labels())
    assert len(many) == len(one) <= 11 + models + 2 + models + flow_steps, [query["sql"] for query in many]


@pytest.mark.django_db
def test_metrics_report_the_outbox(client, metrics_settings, settings):
    """Emails not sent yet, how long the oldest has waited, and those given up on."""
    from processes.models.outbox import OutboxMessage, OutboxStatus

    def message(key, status, age):
        created = clock.now() - timedelta(seconds=age)
        OutboxMessage.objects.create(
            key=key,
            kind="test",
            subject=key,
            body="",
            from_email="a@example.com",
            to=["b@example.com"],
            status=status,
            created_at=created,
            next_attempt_at=None if status != OutboxStatus.PENDING else created,
            sent_at=created if status == OutboxStatus.SENT else None,
        )

    with clock.frozen():
        empty = scrape(client)
        message("sent", OutboxStatus.SENT, 900)
        message("old", OutboxStatus.PENDING, 75)
        message("new", OutboxStatus.PENDING, 5)
        message("failed", OutboxStatus.FAILED, 20_000)
        metrics = scrape(client)

    assert empty["processes_outbox_pending_messages"][()] == 0
    assert empty["processes_outbox_oldest_pending_age_seconds"][()] == 0
    assert metrics["processes_outbox_pending_messages"][()] == 2
    assert metrics["processes_outbox_oldest_pending_age_seconds"][()] == 75
    assert metrics["processes_outbox_failed_messages"][()] == 1
