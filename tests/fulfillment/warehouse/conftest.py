"""Fixtures of the warehouse pages' tests: the picking tests' workers and tasks, returns to
scan and inspect, signed-in clients and the confirm form's answers."""

from django.contrib.auth.models import User
from django.test import Client

from fulfillment.models import PickTask
from tests.fulfillment.picking.conftest import alice, bob, catalogue, make_worker, task  # noqa: F401  (fixtures)
from tests.fulfillment.warehouse.return_fixtures import awaiting_parcel, inspecting  # noqa: F401  (fixtures)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def line_answers(pick_task: PickTask, **overrides) -> dict[str, str]:
    """The confirm form's data for a perfect pick; override fields as sku_<line id>=..."""
    data = {}
    for line in pick_task.order.lines.all():
        data[f"sku_{line.pk}"] = line.sku
        data[f"qty_{line.pk}"] = str(line.quantity)
    return {**data, **overrides}
