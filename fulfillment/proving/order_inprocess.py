"""What an order costs each part of the service, run in this process part by part.

`manage.py profile_noop --workflow order` places orders through the API (Django's test client:
the middleware, the token, the throttle, the view, the serializers; no HTTP server), then runs
each as a worker runs it (`runner.run_process`, up to its pick task), confirms every pick as the
simulated picker does (`simulated_picker_run`), then runs the confirmation step. Each part is
counted apart: this process's CPU, the CPU of the PostgreSQL backend serving it (/proc), its
statements and commits, per order. The simulators' faults and latency are off; wake-ups are
dropped (this process runs the steps, no cluster does). With `profile`, each part's cProfile (CPU
clock) is written to `<profile>.<part>`.

The parts are those of `bench --end-to-end`'s CPU per order (the web tier, the workers, the
picker, their backends), without the queue, the sweeper, gunicorn or HTTP: the figure a change
to the domain moves, at a fraction of the noise of the end-to-end bench.
"""

import cProfile
import time
import uuid
from contextlib import ExitStack, contextmanager, nullcontext

from django.conf import settings
from django.db import connections
from django.test import Client
from django.test.utils import override_settings
from django_q.models import OrmQ

from fulfillment.api.clients import api_client_create
from fulfillment.models import Order, OrderState
from fulfillment.proving.benchmarks import QUIET_SIMULATORS
from fulfillment.proving.demo import demo_data_load
from fulfillment.proving.e2e_load import ORDER_BODY, UNITS_PER_ORDER
from fulfillment.proving.noop_inprocess import _backend_seconds
from fulfillment.simulators.picker import simulated_picker_run
from processes import runner

CLIENT = "profile-order"
WARM_UP = 5
PARTS = ("web", "worker", "picker")
ALIASES = ("default", "simulators")


def order_inprocess(*, orders: int, profile: str | None = None) -> dict:
    """Place, run and pick `orders` orders after a warm-up; their cost per order, by part."""
    demo_data_load(stock_per_product=UNITS_PER_ORDER * (orders + WARM_UP) + 100)
    token, _ = api_client_create(name=CLIENT)
    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="127.0.0.1")
    with override_settings(SIMULATORS=QUIET_SIMULATORS, API={**_api(), "THROTTLE_RATE": "1000000/min"}):
        _whole(client, WARM_UP, meters=None, profile=None)  # imports done, statements prepared
        meters = {part: _Meter() for part in PARTS}
        ids = _whole(client, orders, meters=meters, profile=profile)
    for part, meter in meters.items():
        if profile:
            meter.dump(f"{profile}.{part}")
    completed = Order.objects.filter(pk__in=ids, state=OrderState.COMPLETED).count()
    result = {"orders": orders, "completed": completed}
    for part, meter in meters.items():
        result[part] = meter.per(orders)
    result["total_cpu_ms_per_order"] = round(
        sum(result[p]["client_cpu_ms_per_order"] + result[p]["backend_cpu_ms_per_order"] for p in PARTS), 2
    )
    result["profiled"] = bool(profile)
    return result


def _whole(client: Client, count: int, *, meters: dict | None, profile: str | None) -> list:
    """Place `count` orders, run them to their pick, pick them, run them to their end."""

    def measured(part):
        if meters is None:
            return nullcontext()
        return meters[part].measure(profiled=bool(profile))

    with measured("web"):
        ids = [_place(client) for _ in range(count)]
    OrmQ.objects.all().delete()  # their wake-ups: this process runs them, no cluster does
    with measured("worker"):
        _run(ids)
    with measured("picker"):
        picked = simulated_picker_run(delay=0)
    OrmQ.objects.all().delete()
    if picked < count:
        raise RuntimeError(f"the picker confirmed {picked} of {count} orders' picks")
    with measured("worker"):
        _run(ids)
    return ids


def _place(client: Client) -> str:
    response = client.post(
        "/api/orders/", ORDER_BODY, content_type="application/json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    if response.status_code != 201:
        raise RuntimeError(f"POST /api/orders/ answered {response.status_code}: {response.content[:300]!r}")
    return response.json()["id"]


def _run(ids: list) -> None:
    label = Order._meta.label_lower
    for pk in ids:
        runner.run_process(label, pk)


def _api() -> dict:
    return dict(getattr(settings, "API", {}))


class _Meter:
    """A part's CPU, its backends' CPU, statements and commits, summed over its measured blocks.

    Both connections count: `default`, and `simulators`, through which the simulated services
    keep their ledgers (fulfillment.simulators.routers), as a remote service would on its own.
    """

    def __init__(self):
        self.cpu = self.backend = 0.0
        self.backends_lost = 0
        self.counted = {"statements": 0, "commits": 0}
        self.profiler = None

    @contextmanager
    def measure(self, *, profiled: bool):
        if profiled and self.profiler is None:
            self.profiler = cProfile.Profile(time.process_time)
        with ExitStack() as stack:
            pids = [_backend_pid(connections[alias]) for alias in ALIASES]  # connects if closed
            for alias in ALIASES:
                stack.enter_context(connections[alias].execute_wrapper(self._counting))
                stack.enter_context(_counting_commits(connections[alias], self.counted))
            backend_before = sum(_backend_seconds(pid) for pid in pids)
            cpu_before = time.process_time()
            if self.profiler:
                self.profiler.enable()
            try:
                yield
            finally:
                if self.profiler:
                    self.profiler.disable()
                self.cpu += time.process_time() - cpu_before
                if [_current_pid(connections[alias]) for alias in ALIASES] == pids:
                    self.backend += sum(_backend_seconds(pid) for pid in pids) - backend_before
                else:  # a connection was closed (CONN_MAX_AGE) or replaced: its backend's CPU is lost
                    self.backends_lost += 1

    def _counting(self, execute, sql, params, many, context):
        self.counted["statements"] += 1
        return execute(sql, params, many, context)

    def dump(self, path: str) -> None:
        if self.profiler:
            self.profiler.dump_stats(path)

    def per(self, orders: int) -> dict:
        return {
            "client_cpu_ms_per_order": round(self.cpu * 1000 / orders, 2),
            "backend_cpu_ms_per_order": round(self.backend * 1000 / orders, 2),
            "statements_per_order": round(self.counted["statements"] / orders, 2),
            "commits_per_order": round(self.counted["commits"] / orders, 2),
            # Measured blocks whose backend CPU is left out: a connection changed under them.
            "backend_blocks_lost": self.backends_lost,
        }


def _backend_pid(wrapper) -> int:
    wrapper.ensure_connection()
    return _current_pid(wrapper)


def _current_pid(wrapper) -> int | None:
    """The server process of the connection, as psycopg knows it (no statement sent)."""
    return None if wrapper.connection is None else wrapper.connection.info.backend_pid


@contextmanager
def _counting_commits(wrapper, counted: dict):
    """Count the connection's commits while the block runs (the execute wrapper sees none)."""
    commit = wrapper._commit

    def counting_commit():
        counted["commits"] += 1
        return commit()

    wrapper._commit = counting_commit
    try:
        yield
    finally:
        del wrapper._commit  # the instance attribute: the class's method shows again
