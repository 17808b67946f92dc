"""The noop bench's figures: one round's, from its counts and meter, and a side's, over rounds.

Both sides (our engine and its peer) are summed up by the same functions, so that a figure means
the same on both: per workflow, the totals of the round divided by the workflows it ran.
"""

import statistics

# The figures a side reports as the median of its rounds.
SUMMED_UP = (
    "workflows_per_second",
    "steps_per_second",
    "cpu_ms_per_workflow",
    "workers_cpu_ms_per_workflow",
    "database_cpu_ms_per_workflow",
    "commits_per_workflow",
    "write_transactions_per_workflow",
    "wal_bytes_per_workflow",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value that `share` of the values do not exceed."""
    ordered = sorted(values)
    rank = max(1, round(share * len(ordered) + 0.4999))
    return ordered[min(rank, len(ordered)) - 1]


def round_figures(*, workflows: int, finished: int, steps: int, seconds: float, latencies_ms, meter) -> dict:
    """One round's figures from its counts, its latencies (ms) and its meter's totals."""
    workers_cpu = meter["workers_cpu_seconds"]
    database_cpu = meter["database_cpu_seconds"]
    cpu = workers_cpu + (database_cpu or 0.0)
    per = max(finished, 1)
    latencies = list(latencies_ms) or [0.0]
    return {
        "workflows": workflows,
        "finished": finished,
        "steps": finished * steps,
        "seconds": round(seconds, 3),
        "workflows_per_second": round(finished / seconds, 2),
        "steps_per_second": round(finished * steps / seconds, 1),
        "cpu_ms_per_workflow": round(cpu * 1000 / per, 2),
        "workers_cpu_ms_per_workflow": round(workers_cpu * 1000 / per, 2),
        "database_cpu_ms_per_workflow": None if database_cpu is None else round(database_cpu * 1000 / per, 2),
        "commits_per_workflow": round(meter["commits"] / per, 2),
        "write_transactions_per_workflow": round(meter["write_transactions"] / per, 2),
        "wal_bytes_per_workflow": round(meter["wal_bytes"] / per),
        "wal_scope": meter["wal_scope"],
        "latency_p50_ms": round(percentile(latencies, 0.50), 1),
        "latency_p95_ms": round(percentile(latencies, 0.95), 1),
        "latency_p99_ms": round(percentile(latencies, 0.99), 1),
    }


def side_figures(rounds: list[dict], **about) -> dict:
    """A side's figures: the median of its rounds for each figure, the rounds themselves, and
    what describes the side (`about`: processes, broker, polling interval...)."""
    summary = {**about, "rounds": len(rounds), "workflows": rounds[0]["workflows"]}
    summary["finished"] = sum(r["finished"] for r in rounds)
    for name in SUMMED_UP:
        values = [r[name] for r in rounds if r[name] is not None]
        summary[name] = round(statistics.median(values), 2) if values else None
    summary["wal_scope"] = rounds[0]["wal_scope"]
    summary["per_round"] = rounds
    return summary
