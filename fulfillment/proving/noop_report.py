"""The noop bench's result as a table a person reads: one column per side, medians of rounds."""

ROWS = [
    ("workflows/s", "workflows_per_second"),
    ("steps/s", "steps_per_second"),
    ("CPU ms per workflow", "cpu_ms_per_workflow"),
    ("  workers", "workers_cpu_ms_per_workflow"),
    ("  database backends", "database_cpu_ms_per_workflow"),
    ("commits per workflow", "commits_per_workflow"),
    ("write transactions per workflow", "write_transactions_per_workflow"),
    ("WAL bytes per workflow", "wal_bytes_per_workflow"),
    ("latency p50 ms", "latency_p50_ms"),
    ("latency p95 ms", "latency_p95_ms"),
    ("latency p99 ms", "latency_p99_ms"),
]
LABEL, CELL = 34, 22


def noop_table(result: dict) -> list[str]:
    ours, peer = result["noop"], result.get("peer")
    sides = [("noop (ours)", ours)] + ([(peer["engine"], peer)] if peer else [])
    lines = [
        f"noop bench: {ours['workflows']} workflows a round, {ours['rounds']} round(s) a side, "
        f"in the order {' '.join(result['order'])}",
        f"ours: broker {ours['broker']}, {ours['workers']} workers",
    ]
    if peer:
        lines.append(
            f"peer: {peer['processes']} executors, worker_concurrency {peer['worker_concurrency']}, "
            f"polling every {peer['polling_interval_sec']} s, database {peer['database_name']}"
        )
    load = result["load_average"]
    lines.append(f"load average before {load['before']}, after {load['after']}")
    lines.append(f"{'median of rounds':<{LABEL}}" + "".join(f"{name:>{CELL}}" for name, _ in sides))
    for label, key in ROWS:
        lines.append(f"{label:<{LABEL}}" + "".join(f"{_cell(side[key]):>{CELL}}" for _, side in sides))
    if "ratio_noop_to_peer" in result:
        lines.append(
            f"{'ratio ours / peer (workflows/s)':<{LABEL}}{_cell(result['ratio_noop_to_peer']):>{CELL}}"
        )
    lines.append(f"WAL bytes and write transactions counted for {_scope(ours['wal_scope'])}")
    return lines


def _scope(scope: str) -> str:
    if scope == "database":
        return "each side's database alone (pg_waldump)"
    return "the whole server (pg_waldump could not read the WAL): other databases' writes included"


def _cell(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:g}" if isinstance(value, float) else str(value)
