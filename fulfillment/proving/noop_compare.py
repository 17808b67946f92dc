"""`manage.py bench --workflow noop [--peer dbos]`: our engine alone, and beside its peer.

The rounds alternate, ours then the peer's (A B A B ...), so that whatever else loads the
machine weighs on both alike; each side's figures are the medians of its rounds, and the ratio
is ours to the peer's in workflows per second.
"""

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import version

from django.db import connection

from fulfillment.proving import dbos_peer, noop_bench, noop_figures

PEERS = ("dbos",)


@dataclass(frozen=True)
class NoopBench:
    """What one run of the noop bench is asked to do."""

    workflows: int
    rounds: int
    workers: int
    timeout: float
    peer: str | None = None
    peer_polling: float = dbos_peer.DEFAULT_POLLING
    peer_concurrency: int = dbos_peer.DEFAULT_CONCURRENCY


def noop_bench_run(bench: NoopBench) -> dict:
    """Run the rounds, alternating sides, and gather both sides' figures and their ratio."""
    ours, theirs, order = [], [], []
    load_before = _load()
    with _quiet_enqueue_logs():
        for _ in range(bench.rounds):
            ours.append(
                noop_bench.noop_round(workflows=bench.workflows, workers=bench.workers, timeout=bench.timeout)
            )
            order.append("noop")
            if bench.peer:
                theirs.append(_peer_round(bench))
                order.append("peer")
    result = {
        "workflow": "noop",
        "database": connection.vendor,
        "order": order,
        "load_average": {"before": load_before, "after": _load()},
        "noop": noop_figures.side_figures(
            ours, engine="ours", broker=noop_bench.broker(), workers=bench.workers
        ),
    }
    if bench.peer:
        result["peer"] = noop_figures.side_figures(theirs, **_peer_about(bench))
        result["ratio_noop_to_peer"] = _ratio(result["noop"], result["peer"])
    return result


def _peer_round(bench: NoopBench) -> dict:
    return dbos_peer.dbos_round(
        workflows=bench.workflows,
        processes=bench.workers,
        concurrency=bench.peer_concurrency,
        polling=bench.peer_polling,
        timeout=bench.timeout,
    )


def _peer_about(bench: NoopBench) -> dict:
    return {
        "engine": f"dbos {version('dbos')}",
        "processes": bench.workers,
        "worker_concurrency": bench.peer_concurrency,
        "polling_interval_sec": bench.peer_polling,
        "database_name": dbos_peer.peer_database(),
    }


def _ratio(ours: dict, theirs: dict) -> float | None:
    if not theirs["workflows_per_second"]:
        return None
    return round(ours["workflows_per_second"] / theirs["workflows_per_second"], 2)


def _load() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


@contextmanager
def _quiet_enqueue_logs():
    """django-q2 logs every enqueue at INFO: thousands of lines that say nothing here."""
    logger = logging.getLogger("django-q")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
