"""What a step of the end-to-end bench cost the service, and how deep its queue got.

CPU from /proc (fulfillment.proving.run_meter), for the service's processes (the web server,
the cluster, the picker: each a process tree) and the PostgreSQL backends serving them, found
by their sessions' application names. Backends are sampled every half second from a thread
while the step runs, so that one that ends (Django closes a connection older than CONN_MAX_AGE)
keeps what it used until its last sample. Everything those processes do in the step counts: the
orders' steps and their confirmation, the supervisor and its sweeper process, the broker's
polls. The bench's own CPU (placing, polling) is apart.

The queue's depth (tasks waiting in the broker for a worker, django-q2's `queue_size`) is
read at each sample too: beside the backlog of orders it shows whether the queue holds more
wake-ups than there are orders waiting (the sweeper re-sends a wake-up that waited longer than
REDELIVER_AFTER).
"""

import threading
import time

from django.db import connection
from django_q.brokers import get_broker

from fulfillment.proving.e2e_stack import CLUSTER_SESSIONS, PICKER_SESSIONS, WEB_SESSIONS, Stack
from fulfillment.proving.run_meter import BackendCpu, server_connection, tree_cpu_seconds

SESSIONS = {"web": WEB_SESSIONS, "workers": CLUSTER_SESSIONS, "picker": PICKER_SESSIONS}
SAMPLE_EVERY = 0.5


class StepMeter:
    """`with StepMeter(stack) as meter:` around a step; then `meter.seconds` of CPU per part
    and `meter.queue_depths`, one a sample."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.seconds: dict[str, float | None] = {}
        self.queue_depths: list[int] = []

    def __enter__(self):
        self.server = server_connection()
        database = connection.settings_dict["NAME"]
        self.per_session = {
            name: BackendCpu(self.server.cursor(), app, database) for name, app in SESSIONS.items()
        }
        self._sample(baseline=True)
        self.trees = {name: tree_cpu_seconds([self.stack.children[name].pid]) for name in ("web", "picker")}
        self.trees["workers"] = tree_cpu_seconds([self.stack.children["cluster"].pid])
        self.client = time.process_time()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-e2e-cpu", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()
        pids = {"web": "web", "picker": "picker", "workers": "cluster"}
        for name, before in self.trees.items():
            self.seconds[name] = tree_cpu_seconds([self.stack.children[pids[name]].pid]) - before
        backends = [meter.seconds() for meter in self.per_session.values()]
        self.seconds["database"] = None if None in backends else sum(backends)
        self.seconds["bench_client"] = time.process_time() - self.client
        self.server.close()

    def _run(self) -> None:
        broker = get_broker()
        try:
            while not self._stop.wait(SAMPLE_EVERY):
                self._sample()
                self.queue_depths.append(broker.queue_size())
        finally:
            connection.close()  # this thread's own, opened by the ORM broker

    def _sample(self, *, baseline: bool = False) -> None:
        for meter in self.per_session.values():
            meter.sample(baseline=baseline)


def cpu_per_order(seconds: dict[str, float | None], orders: int) -> dict:
    """Milliseconds of CPU per order placed, by part, and the service's total (not the bench's)."""
    per = max(orders, 1)
    parts = {
        f"{name}_ms": None if value is None else round(value * 1000 / per, 1)
        for name, value in seconds.items()
    }
    service = [seconds[name] for name in ("web", "workers", "picker", "database")]
    parts["service_ms"] = round(sum(v for v in service if v is not None) * 1000 / per, 1)
    return parts
