"""Open-loop order placement through the HTTP API at a steady rate (`bench --end-to-end`).

Open loop, as shops behave: the i-th order is sent at `start + i / rate` whether or not the
orders before it were answered, each from a thread of a pool large enough that a slow server
does not hold the schedule back (a send that still starts late is counted). Each request is a
fresh HTTP/1.1 connection to the loopback server (gunicorn's sync workers close it after each
answer anyway), with the standard library's client: nothing to install.

Times are wall-clock (`time.time()`), so that they compare with the journal's timestamps,
which the workers write from the same machine's clock.
"""

import http.client
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from fulfillment.proving.benchmarks import ADDRESS

ORDER_BODY = {
    "email": "bench@example.com",
    "payment_token": "tok_ok",
    "shipping_address": ADDRESS,
    "lines": [{"sku": "MUG-001", "quantity": 1}, {"sku": "NB-A5", "quantity": 2}],
}
# Units of each product one order takes (the demo stock is topped up to cover the run).
UNITS_PER_ORDER = 2
REQUEST_TIMEOUT = 60.0
# A send that starts this much after its slot counts as late: the client, not the server, lagged.
LATE_AFTER = 0.1


class WarmUpRefused(RuntimeError):
    """The web server did not place the warm-up orders: the run cannot measure anything."""


@dataclass
class Placement:
    """One POST /api/orders/: when it was due, sent and answered, and what came back."""

    scheduled: float
    sent: float = 0.0
    answered: float = 0.0
    status: int | None = None  # None: no HTTP answer (refused, reset, timed out)
    order_id: str | None = None
    error: str = ""

    @property
    def placed(self) -> bool:
        return self.status == 201 and self.order_id is not None


class OrderPlacer:
    """Places one order per call on the server at `port`, as the API client whose token it holds."""

    def __init__(self, *, port: int, token: str):
        self.port = port
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.body = json.dumps(ORDER_BODY).encode()

    def place(self, placement: Placement) -> Placement:
        placement.sent = time.time()
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            headers = {**self.headers, "Idempotency-Key": f"bench-e2e-{uuid.uuid4()}"}
            connection.request("POST", "/api/orders/", body=self.body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            placement.answered = time.time()
            placement.status = response.status
            if response.status == 201:
                placement.order_id = json.loads(payload)["id"]
            else:
                placement.error = payload[:200].decode(errors="replace")
        except (OSError, http.client.HTTPException, ValueError, KeyError) as exc:
            placement.answered = time.time()
            placement.error = f"{type(exc).__name__}: {exc}"[:200]
        finally:
            connection.close()
        return placement


def open_loop(placer: OrderPlacer, *, rate: float, seconds: float) -> list[Placement]:
    """Send `rate × seconds` orders on schedule and wait for every answer; returns them in
    the order they were due."""
    count = max(1, round(rate * seconds))
    start = time.time() + 0.05
    placements = [Placement(scheduled=start + index / rate) for index in range(count)]
    # Enough threads for every order in flight while a slow server queues 30 s of requests.
    threads = int(min(1000, max(16, rate * 30)))
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bench-e2e") as pool:
        for placement in placements:
            _sleep_until(placement.scheduled)
            pool.submit(placer.place, placement)
    return placements


def _sleep_until(moment: float) -> None:
    while (left := moment - time.time()) > 0:
        time.sleep(min(left, 0.05))


def warm_up(placer: OrderPlacer, *, orders: int) -> list[Placement]:
    """Place `orders` one after another (each web worker imports, connects and answers once)."""
    placements = [placer.place(Placement(scheduled=time.time())) for _ in range(orders)]
    failed = [p for p in placements if not p.placed]
    if failed:
        raise WarmUpRefused(
            f"the web server refused the warm-up orders: {failed[0].status} {failed[0].error}"
        )
    return placements
