"""What /readyz and /metrics ask of the infrastructure: the database, the broker, the sweeper.

Each check is one cheap round trip. The broker object is made once per process and kept, so a
probe every few seconds does not open a new Redis connection each time.
"""

import functools
from datetime import datetime

from django.db import connection
from django_q.brokers import Broker, get_broker

from processes import clock
from processes import conf as engine_conf
from processes.models.workers import SweeperLease, WorkerCluster, WorkerClusterState
from processes.sweeper import LOOP_LEASE


@functools.cache
def broker() -> Broker:
    """The configured django-q2 broker (Redis, or the ORM queue in the database)."""
    return get_broker()


def database_reachable() -> None:
    """Raises when the database does not answer."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def broker_reachable() -> None:
    """Raises when the broker does not answer (the ORM broker is the database, checked above)."""
    if not broker().ping():
        raise ConnectionError("the broker did not answer PING")


class SweeperHeartbeat:
    """When the sweeper loop was last known alive: the end of its lease, which it renews each
    sweep and keeps when it hands over to the next loop. Read from the database each time, so
    every web process gives the same answer."""

    def lag_seconds(self, now: datetime | None = None) -> float | None:
        """Seconds since the sweeper's lease ran out: 0 while a loop holds it, None if never seen."""
        now = now or clock.now()
        lease_until = (
            SweeperLease.objects.filter(name=LOOP_LEASE).values_list("lease_until", flat=True).first()
        )
        if lease_until is None:
            return None
        return max(0.0, (now - lease_until).total_seconds())


sweeper_heartbeat = SweeperHeartbeat()


def worker_clusters(now: datetime | None = None) -> dict:
    """Each supervised worker cluster that reported lately, and whether any takes work.

    Not ready only when clusters reported and none of them runs now: one cluster being
    replaced (wedged, or exited) is shown, and the others carry the work meanwhile.
    Deployments whose workers run without `run_workers` report nothing and are not judged.
    """
    now = now or clock.now()
    silent_after = engine_conf.get("WORKER_SILENT_AFTER")
    clusters = [
        {
            "name": cluster.name,
            "state": cluster.condition(now, silent_after),
            "workers_busy": cluster.workers_busy,
            "workers_idle": cluster.workers_idle,
            "last_task_started_seconds_ago": _age(now, cluster.last_started_at),
            "restarts": cluster.restarts,
            "sweeper_wedges": cluster.sweeper_wedges,
            **({"last_restart_reason": cluster.last_restart_reason} if cluster.restarts else {}),
        }
        for cluster in WorkerCluster.recent(now)
    ]
    live = [c for c in clusters if c["state"] != WorkerClusterState.STOPPED]
    ok = not live or any(c["state"] == WorkerClusterState.RUNNING for c in live)
    return {"ok": ok, "clusters": clusters}


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else round(max(0.0, (now - then).total_seconds()), 1)
