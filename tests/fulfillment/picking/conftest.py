"""Fixtures of the picking tests (and the warehouse pages'): workers in their warehouses and
orders waiting for a pick."""

import pytest
from django.contrib.auth.models import Group, User

from fulfillment.models import Order, PickTask, Stock, Warehouse, WarehouseAssignment
from fulfillment.warehouse.access import WORKER_GROUP
from processes import clock
from processes.models.process import RunStatus
from tests.factories import drive, place_order

PASSWORD = "correct horse battery staple"
BINS = {"MUG-001": "A-01-1", "TEE-042": "B-07-3"}


@pytest.fixture
def catalogue(catalogue):
    """The suite's catalogue, with a bin location for every stock line."""
    for sku, bin_location in BINS.items():
        Stock.objects.filter(product__sku=sku).update(bin_location=bin_location)
    return catalogue


@pytest.fixture
def make_worker(catalogue):
    """make_worker("alice") -> a warehouse worker assigned to the catalogue's warehouse."""

    def make(username: str = "alice", *, warehouse: Warehouse | None = None, group: bool = True) -> User:
        user = User.objects.create_user(username, password=PASSWORD)
        if group:
            user.groups.add(Group.objects.get_or_create(name=WORKER_GROUP)[0])
        WarehouseAssignment.objects.create(user=user, warehouse=warehouse or catalogue.warehouse)
        return user

    return make


@pytest.fixture
def alice(make_worker) -> User:
    return make_worker("alice")


@pytest.fixture
def bob(make_worker) -> User:
    return make_worker("bob")


@pytest.fixture
def task(catalogue) -> PickTask:
    """An order waiting for its pick, and its open pick task."""
    return PickTask.objects.get(order=order_waiting_for_pick())


def order_waiting_for_pick(**kwargs) -> Order:
    with clock.frozen():
        order = drive(place_order(**kwargs), pick=False)
    assert (order.step, order.run_status) == ("pick", RunStatus.WAITING)
    return order


def fresh(task: PickTask) -> PickTask:
    task.refresh_from_db()
    return task


def operator_alerts(order: Order) -> int:
    """How many needs-attention emails the operators got about the order."""
    from fulfillment.simulators.models import SentMail

    return SentMail.objects.filter(subject__contains="needs attention", body__contains=str(order.pk)).count()
