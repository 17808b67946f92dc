"""`GET /metrics`: the service's figures in the Prometheus text format (prometheus-client).

Every figure is read from the database (or the broker) at scrape time, by a custom collector:
the workers that run the steps live on other machines than the web server Prometheus scrapes,
so counters kept in a process's memory would see only that process. The reads are a handful of
index-backed aggregates, whatever the number of orders:

- orders per state (the (state, created_at) index) and needing attention (its partial index);
  returns likewise;
- the oldest due work: the first `next_run_at` in the past of any process (each model's
  partial `due` index);
- step attempts, failures and the duration histogram over the last METRICS_WINDOW seconds
  (the (started_at, step) index), from `StepAttempt.duration_ms`, which the engine measures
  around each external call. They describe that window, so they are gauges (a gauge
  histogram) rather than ever-growing counters: graph them as they are, no `rate()`;
- queue depth from the broker; sweeper lag from the sweeper's lease;
- each supervised worker cluster's state, restarts and last task (the few `WorkerCluster` rows
  their supervisors keep, processes.worker_supervisor);
- rate-limit checks the API let pass uncounted because their Redis did not answer
  (`ThrottleUnavailable`, one row per limit, written by fulfillment.api.rate_windows);
- the outbox of emails to people: pending, given up, and how long the oldest pending has
  waited (one aggregate over its partial index of unsent messages);
- each step's flow control, per flow key: its circuit's state (one series per state, 1 for
  the current one), the processes it holds and those waiting their turn (the circuits table,
  tiny, and the partial `held` index), the share of its latest calls that failed and of due
  calls it lets go (one query per step and key over the (started_at, step) index).

Access: a bearer token (METRICS_TOKEN) or a client address in METRICS_ALLOWED_IPS; with
neither configured, /metrics is off (403).
"""

import hmac
import ipaddress
import logging
import math
from datetime import timedelta

from django.db import DatabaseError, close_old_connections
from django.db.models import Count, Q, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeHistogramMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from fulfillment.api.models import ThrottleUnavailable
from fulfillment.models import Order, OrderState, Return, ReturnState
from fulfillment.ops import conf
from fulfillment.ops.readiness import broker, sweeper_heartbeat
from processes import clock
from processes import conf as engine_conf
from processes.flow.figures import flows
from processes.models.flow import CircuitState
from processes.models.journal import AttemptOutcome, StepAttempt
from processes.models.workers import WorkerCluster, WorkerClusterState
from processes.outbox import outbox_figures
from processes.workflow import registry as workflows

logger = logging.getLogger("fulfillment.ops.metrics")

# Upper bounds (seconds) of the step duration buckets: external calls take milliseconds to seconds.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
FAILED_OUTCOMES = (AttemptOutcome.FAILED, AttemptOutcome.ABANDONED, AttemptOutcome.LEASE_LOST)


class FulfillmentCollector:
    """Reads the figures afresh on every scrape; one instance per registry."""

    def collect(self):
        now = clock.now()
        yield from self._orders()
        yield from self._returns()
        yield from self._due_work(now)
        yield from self._attempts(now)
        yield from self._queue_and_sweeper(now)
        yield from self._outbox(now)
        yield from self._circuits()
        yield from self._worker_clusters(now)
        yield self._throttles_unavailable()

    def _orders(self):
        per_state = GaugeMetricFamily("fulfillment_orders", "Orders in each state.", labels=["state"])
        counts = dict(Order.objects.order_by().values_list("state").annotate(n=Count("pk")))
        for state in OrderState.values:
            per_state.add_metric([state], counts.get(state, 0))
        yield per_state
        yield GaugeMetricFamily(
            "fulfillment_orders_needs_attention",
            "Orders waiting for an operator.",
            value=Order.objects.filter(needs_attention=True).count(),
        )

    def _returns(self):
        per_state = GaugeMetricFamily("fulfillment_returns", "Returns in each state.", labels=["state"])
        counts = dict(Return.objects.order_by().values_list("state").annotate(n=Count("pk")))
        for state in ReturnState.values:
            per_state.add_metric([state], counts.get(state, 0))
        yield per_state
        yield GaugeMetricFamily(
            "fulfillment_returns_needs_attention",
            "Returns waiting for an operator.",
            value=Return.objects.filter(needs_attention=True).count(),
        )

    def _due_work(self, now):
        # Every process the engine runs (orders, returns): a forgotten return is as late as an order.
        due = [
            workflows.model_class(label)
            .objects.filter(next_run_at__isnull=False, next_run_at__lte=now)
            .order_by("next_run_at")
            .values_list("next_run_at", flat=True)
            .first()
            for label in workflows.labels()
        ]
        oldest = min((at for at in due if at is not None), default=None)
        yield GaugeMetricFamily(
            "fulfillment_oldest_due_work_age_seconds",
            "How long the oldest due step, retry, expired lease or deadline has waited (0: none).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )

    def _attempts(self, now):
        window = conf.get("METRICS_WINDOW")
        recent = StepAttempt.objects.filter(started_at__gte=now - timedelta(seconds=window)).order_by()
        attempts = GaugeMetricFamily(
            "fulfillment_step_attempts",
            f"Step attempts started in the last {window} s, by step, direction and outcome.",
            labels=["step", "direction", "outcome"],
        )
        failures = GaugeMetricFamily(
            "fulfillment_step_failures",
            f"Step attempts started in the last {window} s that failed, were abandoned or lost their lease.",
            labels=["step", "direction"],
        )
        failed: dict[tuple[str, str], int] = {}
        for step, direction, outcome, n in recent.values_list("step", "direction", "outcome").annotate(
            n=Count("pk")
        ):
            attempts.add_metric([step, direction, outcome], n)
            if outcome in FAILED_OUTCOMES:
                failed[step, direction] = failed.get((step, direction), 0) + n
            else:
                failed.setdefault((step, direction), 0)
        for (step, direction), n in sorted(failed.items()):
            failures.add_metric([step, direction], n)
        yield attempts
        yield failures
        yield self._durations(recent, window)

    def _durations(self, recent, window):
        histogram = GaugeHistogramMetricFamily(
            "fulfillment_step_duration_seconds",
            f"Duration of the external call of step attempts finished in the last {window} s.",
            labels=["step"],
        )
        buckets = {
            f"le_{i}": Count("pk", filter=Q(duration_ms__lte=b * 1000))
            for i, b in enumerate(DURATION_BUCKETS)
        }
        rows = (
            recent.filter(duration_ms__isnull=False)
            .values("step")
            .annotate(total=Count("pk"), total_ms=Sum("duration_ms"), **buckets)
        )
        for row in rows:
            cumulative = [(str(b), row[f"le_{i}"]) for i, b in enumerate(DURATION_BUCKETS)]
            histogram.add_metric(
                [row["step"]], [*cumulative, ("+Inf", row["total"])], gsum_value=(row["total_ms"] or 0) / 1000
            )
        return histogram

    def _queue_and_sweeper(self, now):
        yield GaugeMetricFamily(
            "fulfillment_queue_depth",
            "Wake-ups waiting in the broker's queue (NaN: the broker did not answer).",
            value=_queue_depth(),
        )
        lag = sweeper_heartbeat.lag_seconds(now)
        yield GaugeMetricFamily(
            "fulfillment_sweeper_lag_seconds",
            "Seconds since the sweeper loop's lease ran out (0 while a loop runs; +Inf: never seen).",
            value=math.inf if lag is None else lag,
        )

    def _outbox(self, now):
        figures = outbox_figures(now)
        yield GaugeMetricFamily(
            "processes_outbox_pending_messages",
            "Emails to people (alerts, pick warnings) written but not sent yet.",
            value=figures.pending,
        )
        yield GaugeMetricFamily(
            "processes_outbox_oldest_pending_age_seconds",
            "How long the oldest email not sent yet has waited (0: none).",
            value=figures.oldest_pending_age,
        )
        yield GaugeMetricFamily(
            "processes_outbox_failed_messages",
            "Emails the outbox gave up on after its attempts (see the admin's outbox list).",
            value=figures.failed,
        )

    def _circuits(self):
        labels = ["workflow", "step", "key"]
        state = GaugeMetricFamily(
            "processes_circuit_state",
            "The state of each step's circuit breaker: 1 for the state it is in, 0 for the others.",
            labels=[*labels, "state"],
        )
        deferred = GaugeMetricFamily(
            "processes_circuit_deferred_processes",
            "Processes held by a step's circuit (open, probing or paused), spending no attempts.",
            labels=labels,
        )
        waiting = GaugeMetricFamily(
            "processes_step_waiting_processes",
            "Processes waiting at a step without spending attempts, by what they wait on: its "
            "circuit, their turn at a slowed service, or their turn under the service's limit.",
            labels=[*labels, "on"],
        )
        failed = GaugeMetricFamily(
            "processes_step_failed_call_ratio",
            "Share of a step's latest calls (its flow-control window) that failed as a sick service fails.",
            labels=labels,
        )
        admitted = GaugeMetricFamily(
            "processes_step_admitted_ratio",
            "Share of due calls a step lets go at once: 1 normally, less while it is slowed, 0 stopped.",
            labels=labels,
        )
        for flow in flows():
            series = [flow.workflow, flow.step, flow.key]
            for value in CircuitState.values:
                state.add_metric([*series, value], 1 if flow.state == value else 0)
            deferred.add_metric(series, flow.held)
            for on, count in (("circuit", flow.held), ("pace", flow.paced), ("limit", flow.limited)):
                waiting.add_metric([*series, on], count)
            failed.add_metric(series, flow.health.failed_share)
            going = flow.health.admitted_share(flow.policy) if flow.state == CircuitState.CLOSED else 0
            admitted.add_metric(series, going)
        yield from (state, deferred, waiting, failed, admitted)

    def _worker_clusters(self, now):
        labels = ["cluster", "host", "queue"]
        state = GaugeMetricFamily(
            "processes_worker_cluster_state",
            "Each supervised worker cluster that reported in the last 10 minutes: 1 for the state "
            "it is in (silent: its supervisor stopped reporting), 0 for the others.",
            labels=[*labels, "state"],
        )
        started = GaugeMetricFamily(
            "processes_worker_cluster_last_task_started_age_seconds",
            "Seconds since a worker of the cluster last started a task.",
            labels=labels,
        )
        restarts = CounterMetricFamily(
            "processes_worker_cluster_restarts",
            "Times the supervisor replaced its cluster (wedged, or exited) since it started.",
            labels=labels,
        )
        sweeper_wedges = CounterMetricFamily(
            "processes_worker_cluster_sweeper_wedges",
            "Times the supervisor killed its sweeper process as wedged (silent too long) since it started.",
            labels=labels,
        )
        silent_after = engine_conf.get("WORKER_SILENT_AFTER")
        for cluster in WorkerCluster.recent(now):
            series = [cluster.name, cluster.host, cluster.queue]
            condition = cluster.condition(now, silent_after)
            for value in (*WorkerClusterState.values, "silent"):
                state.add_metric([*series, value], 1 if condition == value else 0)
            if cluster.last_started_at is not None:
                started.add_metric(series, max(0.0, (now - cluster.last_started_at).total_seconds()))
            restarts.add_metric(series, cluster.restarts)
            sweeper_wedges.add_metric(series, cluster.sweeper_wedges)
        yield from (state, started, restarts, sweeper_wedges)

    def _throttles_unavailable(self):
        uncounted = CounterMetricFamily(
            "fulfillment_api_throttle_unavailable",
            "Rate-limit checks the API let pass uncounted because their Redis did not answer, by limit.",
            labels=["scope"],
        )
        for scope, requests in ThrottleUnavailable.objects.order_by("scope").values_list("scope", "requests"):
            uncounted.add_metric([scope], requests)
        return uncounted


def _queue_depth() -> float:
    """The broker's queue length; NaN when it does not answer, so the other figures still go out
    (a Redis outage is when the API's uncounted-request figure matters)."""
    try:
        return broker().queue_size()
    except Exception:
        logger.warning("the broker did not answer /metrics' queue depth", exc_info=True)
        return math.nan


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FulfillmentCollector())
    return registry


def metrics_allowed(request: HttpRequest) -> bool:
    """The bearer token matches, or the client's own address (REMOTE_ADDR) is allow-listed."""
    token = conf.get("METRICS_TOKEN")
    given = request.headers.get("Authorization", "")
    if token and hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in conf.get("METRICS_ALLOWED_NETWORKS"))


def metrics(request: HttpRequest) -> HttpResponse:
    if not conf.get("METRICS_TOKEN") and not conf.get("METRICS_ALLOWED_NETWORKS"):
        return JsonResponse(
            {"detail": "Metrics are off: set METRICS_TOKEN or METRICS_ALLOWED_IPS."}, status=403
        )
    if not metrics_allowed(request):
        response = JsonResponse(
            {"detail": "A valid metrics token (Authorization: Bearer …) is required."}, status=401
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    try:
        body = generate_latest(_registry())
    except DatabaseError as error:
        # The figures are read from the database: without it there are none to give. Say so
        # in JSON like the other refusals; Prometheus records the scrape as failed.
        close_old_connections()
        logger.warning("metrics unavailable: %s: %s", type(error).__name__, error)
        response = JsonResponse({"detail": "The database does not answer: no figures to give."}, status=503)
        response["Retry-After"] = "5"
        return response
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
