"""The chaos soak: many orders through real clusters that are killed, with flaky services and
lost queue messages, then the invariants (fulfillment.proving.invariants) as the verdict.

The soak process places the orders through `order_place` (the service the API uses), stands in
for the warehouse with the simulated picker, kills a worker or a whole cluster every few
seconds and starts dead clusters again, and throws away a share of the queue's messages. The
clusters get the fault profile through the simulators' environment variables; declined cards
and out-of-stock lines are in the orders themselves, chosen by the seed. The `outage` profile
also takes one service down for a stretch of the run, through the simulators' outage switch;
the `degraded` one makes the carrier refuse 30 % of its calls for the whole run, and nothing
else fail. A share of the orders that complete are returned (fulfillment.proving.soak_returns).
The report says how long orders waited on flow control (circuits, slowed steps, published
limits), and, under a carrier limit, the most calls the carrier saw in any second.
"""

import logging
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from io import StringIO
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, close_old_connections, transaction
from django.db.models import F
from django_q.tasks import async_task
from redis.exceptions import RedisError

from fulfillment.models import Order, Product, Stock, Warehouse
from fulfillment.ordering import LineRequest, order_place
from fulfillment.proving.chaos import Cluster, Killer, OutageWindow, child_environment, message_dropper
from fulfillment.proving.soak_report import SoakReport, report_flow, report_outcomes
from fulfillment.proving.soak_returns import SoakReturns, at_rest, return_figures, stock_on_hand
from fulfillment.simulators.payment import TOKEN_DECLINED, TOKEN_FLAKY, TOKEN_OK
from fulfillment.simulators.picker import simulated_picker_run
from processes import clock
from processes.journal import Actor
from processes.models.workers import SweeperLease, WorkerCluster, WorkerClusterState
from processes.sweeper import LOOP_LEASE
from processes.worker_supervisor import cluster_name

WAREHOUSE = "SOAK"
PLENTIFUL = [("SOAK-MUG", "12.50", 350), ("SOAK-TEE", "24.00", 200), ("SOAK-CAP", "18.90", 150)]
SCARCE = ("SOAK-RARE", "99.00", 500)
ADDRESS = {
    "name": "Soak Tester",
    "line1": "1 Chaos Lane",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}
TICK = 0.2
# A task that does nothing, sent at the end so that every cluster is seen taking work.
PROBE_TASK = "fulfillment.proving.soak.probe"
# Once every order is placed and no more than this share of them still moves, the kills stop
# and the engine must bring the rest to rest alone (as a chaos test heals before its final
# check). Without it the killer, which only strikes busy workers, keeps striking the last few
# orders' steps, each strike costing them a lease: the run's length became a lottery on them.
DRAIN_SHARE = 0.1
# What a blinking database or Redis raises at the soak itself.
INFRASTRUCTURE_ERRORS = (DatabaseError, RedisError)


@dataclass(frozen=True)
class FaultProfile:
    """How hostile the world is: the simulators' random faults (given to the clusters through
    their environment) and the share of orders, or queue messages, that are bad on purpose."""

    transient_rate: float  # refused before any effect
    ambiguous_rate: float  # effect done, answer lost (timeout)
    latency_ms: int
    declined: float  # share of orders paying with a declined card
    flaky: float  # share paying with a card whose issuer fails half the time
    out_of_stock: float  # share with a line of the scarce product, stocked for half of them
    dropped: float  # share of queue messages thrown away
    outage: bool = False  # one service down for a stretch (SoakConfig.outage_service)
    degraded: str = ""  # services refusing a share of their calls all along: "carrier:0.3"
    wedging_kills: bool = False  # idle workers and monitors are killed too (django-q2 #23)

    def environment(self) -> dict[str, str]:
        return {
            "SIM_TRANSIENT_ERROR_RATE": str(self.transient_rate),
            "SIM_AMBIGUOUS_TIMEOUT_RATE": str(self.ambiguous_rate),
            "SIM_LATENCY_MS": str(self.latency_ms),
            "SIM_OUTAGE": "",  # outages come from the switch, at the soak's chosen moment
            "SIM_DEGRADED": self.degraded,
        }


PROFILES = {
    "none": FaultProfile(0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0),
    "default": FaultProfile(0.05, 0.02, 0, 0.05, 0.10, 0.05, 0.02),
    "heavy": FaultProfile(0.20, 0.10, 20, 0.10, 0.15, 0.10, 0.10),
    # Services fail only by the outage, so its figures (calls refused, a circuit opened) are its
    # own; declined cards, sold-out lines and lost messages go on as in `default`.
    "outage": FaultProfile(0.0, 0.0, 0, 0.05, 0.0, 0.05, 0.02, outage=True),
    # `none`, but the carrier refuses 30 % of its calls, transiently, for the whole run: what a
    # degraded service costs, measured against `none` (orders per second, waits).
    "degraded": FaultProfile(0.0, 0.0, 0, 0.0, 0.0, 0.0, 0.0, degraded="carrier:0.3"),
    # `default`, on servers of the soak's own whose Redis and PostgreSQL go down during the run
    # (fulfillment.proving.infra_soak), and kills that wedge a cluster until its supervisor replaces it.
    "infra": FaultProfile(0.05, 0.02, 0, 0.05, 0.10, 0.05, 0.02, wedging_kills=True),
}


@dataclass(frozen=True)
class SoakConfig:
    orders: int
    workers: int = 4
    kill_every: float = 5.0  # 0: never kill
    faults: str = "heavy"
    seed: int = 0
    clusters: int = 1
    timeout: float = 600.0
    max_in_flight: int = 200
    log_dir: Path | None = None
    outage_service: str = "carrier"
    outage_seconds: float = 30.0
    carrier_limit: float = 0.0  # calls per second the carrier allows (CARRIER_RATE_LIMIT); 0: none
    returns: float = 0.1  # share of the completed orders the soak returns

    @property
    def profile(self) -> FaultProfile:
        return PROFILES[self.faults]


class Interrupted(Exception):
    """SIGTERM or SIGINT reached the soak: stop the clusters and report what happened so far."""


def soak_run(config: SoakConfig, *, say: Callable[[str], None] = print) -> SoakReport:
    """Run the soak and return its report; the clusters are stopped whatever happens."""
    logging.getLogger("django-q").setLevel(logging.WARNING)  # one line per enqueue is noise here
    log_dir = config.log_dir or settings.VAR_DIR / "soak" / time.strftime("%Y%m%d-%H%M%S")
    log_dir.mkdir(parents=True, exist_ok=True)
    report = SoakReport(
        broker="redis" if settings.REDIS_URL else "orm",
        clusters=config.clusters,
        workers=config.workers,
        faults=config.faults,
        seed=config.seed,
        log_dir=str(log_dir),
        carrier_limit=config.carrier_limit,
    )
    began = clock.now()
    warehouse = soak_catalogue_prepare(orders=config.orders, profile=config.profile)
    on_hand_before = stock_on_hand(warehouse)
    returns = SoakReturns(config.returns, random.Random(config.seed + 3))
    limit = {"CARRIER_RATE_LIMIT": str(config.carrier_limit)} if config.carrier_limit else {}
    env = child_environment(workers=config.workers, faults={**config.profile.environment(), **limit})
    clusters = [Cluster(n + 1, env, log_dir / f"cluster-{n + 1}.log") for n in range(config.clusters)]
    rng = random.Random(config.seed)
    killer = Killer(clusters, random.Random(config.seed + 1), wedges=config.profile.wedging_kills)
    dropper = message_dropper(config.profile.dropped, random.Random(config.seed + 2))
    outage = None
    if config.profile.outage:
        outage = OutageWindow(config.outage_service, config.outage_seconds, config.orders)
    placed: list[str] = []
    previous = {signum: signal.signal(signum, _interrupt) for signum in (signal.SIGTERM, signal.SIGINT)}
    started = time.monotonic()
    try:
        _sweeper_start()
        if outage:
            outage.reset()
        for cluster in clusters:
            cluster.start()
        chaos_tools = killer, dropper, outage
        people = placed, returns
        report.timed_out = _drive(config, report, warehouse, clusters, chaos_tools, rng, people, say)
        report.clusters_not_running = _clusters_not_running(clusters)
    except Interrupted:
        say("Interrupted: stopping the clusters.")
        report.timed_out = True
    finally:
        report.elapsed_seconds = round(time.monotonic() - started, 1)
        if outage and (note := outage.end()):
            say(f"[{report.elapsed_seconds:6.1f}s] {note} (the run is over)")
        for cluster in clusters:
            cluster.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    report.kills = dict(killer.counts)
    report.cluster_starts = sum(cluster.starts for cluster in clusters)
    report.messages_dropped = dropper.dropped
    report.outage = outage.summary() if outage else {}
    _when_the_database_answers(lambda: report_outcomes(report, placed))
    figures = return_figures(returns, warehouse=warehouse, on_hand_before=on_hand_before)
    report.returns, report.stock_not_counted_once = figures.as_dict(), figures.stock_not_counted_once
    report_flow(report, placed, began)
    since_began = WorkerCluster.objects.filter(started_at__gte=began)
    report.wedges_replaced = sum(since_began.values_list("wedges", flat=True))
    return report


def _interrupt(signum, frame):
    raise Interrupted(signal.Signals(signum).name)


def _drive(config, report, warehouse, clusters, chaos_tools, rng, people, say) -> bool:
    """The soak's loop; returns True when it timed out with orders (or returns) still moving."""
    turn = _Turn(config, report, warehouse, clusters, chaos_tools, rng, people, say)
    deadline, next_report = turn.started + config.timeout, turn.started + 10
    while True:
        now = time.monotonic()
        try:
            if turn.take(now):
                return False
        except INFRASTRUCTURE_ERRORS as error:
            # The soak's own database or Redis is down (`--faults infra`): like any client, the
            # soak tries again on its next turn; what it placed is in the database already.
            say(f"[{now - turn.started:6.1f}s] {type(error).__name__}: {str(error)[:100]}; trying again")
            close_old_connections()
        if now >= next_report:
            next_report += 10
            say(
                f"[{now - turn.started:6.1f}s] placed {len(turn.placed)}/{config.orders}, "
                f"moving {len(turn.moving)}, returns {len(turn.returns.requested)} "
                f"(moving {len(turn.returns.moving)}), kills {turn.killer.total}, "
                f"dropped {turn.dropper.dropped}"
            )
        if now >= deadline:
            say(
                f"Timed out after {config.timeout:g}s with {len(turn.moving)} orders and "
                f"{len(turn.returns.moving)} returns still moving."
            )
            return True
        time.sleep(TICK)


class _Turn:
    """One turn of the soak's loop: place, pick, return, drop, kill, restart what died, look around."""

    def __init__(self, config, report, warehouse, clusters, chaos_tools, rng, people, say):
        self.config, self.report, self.warehouse, self.clusters = config, report, warehouse, clusters
        self.killer, self.dropper, self.outage = chaos_tools
        self.rng, (self.placed, self.returns), self.say = rng, people, say
        self.started = time.monotonic()
        self.next_kill = self.started + config.kill_every
        self.moving: set[str] = set()

    def take(self, now: float) -> bool:
        """True once every order is placed and at rest, and every return it asked for."""
        config, report, placed, moving = self.config, self.report, self.placed, self.moving
        elapsed = now - self.started
        room = min(config.max_in_flight - len(moving), config.orders - len(placed), 50)
        for _ in range(max(room, 0)):
            order_id = str(_place(self.rng, self.warehouse, config.profile, len(placed)).pk)
            placed.append(order_id)
            moving.add(order_id)
        simulated_picker_run(delay=0)
        self.dropper.drop()
        if config.kill_every and report.kills_stopped_after is None and _draining(config, placed, moving):
            report.kills_stopped_after = round(elapsed, 1)
            self.say(f"[{elapsed:6.1f}s] {len(moving)} orders still moving: no more kills")
        if config.kill_every and report.kills_stopped_after is None and now >= self.next_kill:
            self._strike(now, elapsed)
        for cluster in self.clusters:
            if cluster.alive:
                cluster.watch()
            else:
                cluster.start()
        rested = at_rest(Order, moving)
        moving -= rested
        self.returns.orders_at_rest(rested)
        self.returns.take()
        done = len(placed) - len(moving)
        if self.outage and (note := self.outage.tick(placed=len(placed), at_rest=done, elapsed=elapsed)):
            self.say(f"[{elapsed:6.1f}s] {note}")
        return len(placed) == config.orders and not moving and not self.returns.moving

    def _strike(self, now: float, elapsed: float) -> None:
        # Nothing worth killing (all idle): try again next turn, for one interval at most.
        every = self.config.kill_every
        if done := self.killer.strike():
            self.say(f"[{elapsed:6.1f}s] {done}")
        if not done and now >= self.next_kill + every:
            # Said, so that a run with few kills shows why (kills_total is asserted on).
            self.say(f"[{elapsed:6.1f}s] no {self.killer.pending.replace('_', ' ')} to kill for {every:g}s")
            self.killer.skip()
        if done or now >= self.next_kill + every:
            self.next_kill = now + every


def _clusters_not_running(clusters: list[Cluster], *, wait: float = 180.0) -> int:
    """How many live clusters did not start a task in the `wait` seconds after the orders came
    to rest, or are not reported running by their supervisors.

    A wedged cluster looks alive until its supervisor finds it out, so being reported running
    proves nothing: each must be seen taking work. At rest there is none (the sweeper is a
    process beside the workers, not a task), so a probe that does nothing goes into the queue
    every second until every cluster has started a task or the wait is over. A cluster wedged by
    the last kills is replaced meanwhile, and its successor takes a probe.
    """
    names = {cluster_name(cluster.popen.pid) for cluster in clusters if cluster.alive}
    since, deadline = clock.now(), time.monotonic() + wait
    while True:
        taking = WorkerCluster.objects.filter(
            name__in=names, state=WorkerClusterState.RUNNING, last_started_at__gt=since
        ).count()
        if taking == len(names) or time.monotonic() > deadline:
            return len(names) - taking
        async_task(PROBE_TASK, task_name="soak probe: is this cluster taking work?")
        time.sleep(1.0)


def probe() -> None:
    """The soak's probe task: nothing, so that starting it shows a cluster takes work."""


def _when_the_database_answers(action: Callable[[], None], *, wait: float = 120.0) -> None:
    deadline = time.monotonic() + wait
    while True:
        try:
            return action()
        except INFRASTRUCTURE_ERRORS:
            close_old_connections()
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def _draining(config, placed: list[str], moving: set[str]) -> bool:
    return len(placed) == config.orders and len(moving) <= config.orders * DRAIN_SHARE


def _sweeper_start() -> None:
    """Install the sweeper's schedule and enqueue its loop, as `setup_schedules` does on deploy."""
    SweeperLease.objects.get_or_create(name=LOOP_LEASE)  # a flushed test database lacks it
    call_command("setup_schedules", stdout=StringIO())


def soak_catalogue_prepare(*, orders: int, profile: FaultProfile) -> Warehouse:
    """The soak's own warehouse and products: plenty of most, the scarce one for about half of
    the orders that ask for it. Stock is topped up on top of what earlier runs still reserve."""
    with transaction.atomic():
        warehouse, _ = Warehouse.objects.get_or_create(code=WAREHOUSE, defaults={"name": "Soak warehouse"})
        scarce_units = round(orders * profile.out_of_stock / 2)
        for (sku, price, grams), units in [*((p, orders * 3) for p in PLENTIFUL), (SCARCE, scarce_units)]:
            product, _ = Product.objects.update_or_create(
                sku=sku, defaults={"name": sku.title(), "price": Decimal(price), "weight_grams": grams}
            )
            stock, _ = Stock.objects.get_or_create(product=product, warehouse=warehouse)
            Stock.objects.filter(pk=stock.pk).update(on_hand=F("reserved") + units)
    return warehouse


def _place(rng: random.Random, warehouse: Warehouse, profile: FaultProfile, number: int) -> Order:
    skus = rng.sample([sku for sku, *_ in PLENTIFUL], rng.randint(1, len(PLENTIFUL)))
    lines = [LineRequest(sku, rng.randint(1, 3)) for sku in skus]
    if rng.random() < profile.out_of_stock:
        lines.append(LineRequest(SCARCE[0], 1))
    draw = rng.random()
    token = (
        TOKEN_DECLINED
        if draw < profile.declined
        else TOKEN_FLAKY
        if draw < profile.declined + profile.flaky
        else TOKEN_OK
    )
    return order_place(
        email=f"soak-{number}@example.com",
        shipping_address=ADDRESS,
        lines=lines,
        payment_token=token,
        actor=Actor("client", "soak"),
        warehouse=warehouse,
    )
