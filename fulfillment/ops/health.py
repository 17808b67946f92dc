"""`GET /healthz` (the process answers) and `GET /readyz` (it can do its work), as JSON.

Served by fulfillment.ops.middleware. Neither probe says anything secret.
"""

import logging

from django.db import close_old_connections
from django.http import JsonResponse

from fulfillment.ops import conf
from fulfillment.ops.readiness import broker_reachable, database_reachable, sweeper_heartbeat, worker_clusters

logger = logging.getLogger("fulfillment.ops.health")


def liveness(request=None) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def readiness(request=None) -> JsonResponse:
    """200 when the database and the broker answer, the sweeper was seen recently and some
    supervised worker cluster runs (if any reported), else 503."""
    checks = {"database": _run(database_reachable), "broker": _run(broker_reachable)}
    checks["sweeper"] = (
        _sweeper_check() if checks["database"]["ok"] else {"ok": False, "error": "no database"}
    )
    checks["workers"] = (
        _workers_check() if checks["database"]["ok"] else {"ok": False, "error": "no database"}
    )
    ready = all(check["ok"] for check in checks.values())
    if not ready:
        logger.warning("not ready", extra={"checks": checks})
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503
    )


def _run(check) -> dict:
    try:
        check()
    except Exception as error:  # any failure means "not ready"; say which, without a traceback
        close_old_connections()
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    return {"ok": True}


def _workers_check() -> dict:
    try:
        return worker_clusters()
    except Exception as error:
        close_old_connections()
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}


def _sweeper_check() -> dict:
    max_lag = conf.get("SWEEPER_MAX_LAG")
    try:
        lag = sweeper_heartbeat.lag_seconds()
    except Exception as error:
        return {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
    if lag is None:
        return {"ok": False, "error": "no sweeper loop seen yet (are the workers running?)"}
    return {"ok": lag <= max_lag, "lag_seconds": round(lag, 3), "max_lag_seconds": max_lag}
