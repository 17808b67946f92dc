"""A limit the carrier publishes, kept by two clusters of workers that share nothing but the
database: the carrier's own records never show more label calls in a second than it allows."""

import pytest

from fulfillment.models import Order, OrderState
from fulfillment.simulators.calls import busiest_window
from processes.models.journal import ProcessEvent, StepAttempt
from processes.models.process import Hold
from tests.cluster.conftest import wait_for
from tests.conftest import ENGINE_DB
from tests.factories import make_catalogue, place_order

pytestmark = [pytest.mark.cluster, ENGINE_DB]


def test_two_clusters_keep_the_carrier_to_four_calls_a_second(start_cluster):
    """40 orders at once through two clusters with the carrier limited to 4 label calls a
    second, each call 50 ms long: in the carrier's own records no second holds more than 4,
    every order completes with one label attempt, and the waits are in the orders' journals."""
    make_catalogue(on_hand=500)
    limited = {"CARRIER_RATE_LIMIT": "4", "SIM_LATENCY_MS": "50"}
    clusters = [start_cluster(**limited), start_cluster(sweeper=False, **limited)]
    wait_for(lambda: all("] running." in c.log() for c in clusters), what="both clusters", pick=False)
    orders = [place_order(email=f"o{n}@example.com") for n in range(40)]
    ids = [order.pk for order in orders]

    done = Order.objects.filter(pk__in=ids, state=OrderState.COMPLETED)
    wait_for(lambda: done.count() == 40, what="every order to complete", timeout=90)

    most, began = busiest_window("carrier", seconds=1.0, operations=["create_label"])
    assert most == 4, (most, began)
    labels = StepAttempt.objects.filter(step="create_label", process_id__in=ids)
    assert labels.count() == 40 and set(labels.values_list("attempt", flat=True)) == {1}
    workers = {worker.split(":")[1] for worker in labels.values_list("worker", flat=True)}
    assert len(workers) >= 2  # more than one worker process made the calls
    waited = ProcessEvent.objects.filter(process_id__in=ids, reason__contains="waits its turn under carrier")
    assert waited.count() >= 20
    assert not Order.objects.filter(pk__in=ids, held_by=Hold.LIMIT).exists()
