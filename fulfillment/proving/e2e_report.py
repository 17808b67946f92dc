"""The end-to-end bench's result as a table a person reads: one row per step."""

COLUMNS = [
    ("phase", "phase", 6),
    ("rate/s", "target_rate", 7),
    ("sent", "sent", 6),
    ("201", "placed", 6),
    ("got/s", "achieved_rate", 7),
    ("201 p50", "place_p50_ms", 9),
    ("201 p95", "place_p95_ms", 9),
    ("label p50", "to_label_p50_ms", 10),
    ("label p95", "to_label_p95_ms", 10),
    ("label p99", "to_label_p99_ms", 10),
    ("pick p95", "to_pick_wait_p95_ms", 10),
    ("queue p95", "to_first_claim_p95_ms", 10),
    ("chain p95", "first_claim_to_label_p95_ms", 10),
    ("held", "held", 6),
]


def end_to_end_table(result: dict) -> list[str]:
    lines = [
        f"end to end: broker {result['broker']}, {result['workers']} workers, "
        f"{result['web_workers']} web workers, {result['seconds_per_step']:g} s a step; "
        f"load average {result['load_average']['before']} before, {result['load_average']['after']} after",
        "ms from sending to the 201 (201); from the 201 to the label, to the pick task and to a worker's "
        "first claim (queue); from that claim to the label (chain)",
        "".join(f"{title:>{width}}" for title, _, width in COLUMNS),
    ]
    for step in result["steps"]:
        lines.append("".join(f"{_cell(step[key]):>{width}}" for _, key, width in COLUMNS))
        cpu = step["cpu_per_order"]
        lines.append(
            f"    CPU ms per order: {cpu['service_ms']} (web {cpu['web_ms']}, workers {cpu['workers_ms']}, "
            f"picker {cpu['picker_ms']}, database {cpu['database_ms']}); deepest queue "
            f"{step['queue_depth_max']} tasks, backlog at the end {step['backlog_at_end']} orders"
        )
        lines.append(f"    journal: {step['journal']}")
        for reason in step["not_held_because"]:
            lines.append(f"    not held: {reason}")
        if step["errors"]:
            lines.append(f"    errors: {step['errors']}")
    rate = result["highest_steady_rate"]
    lines.append(f"highest steady rate: {'none measured held' if rate is None else f'{rate:g} orders/s'}")
    lines.append(f"rule: {result['hold_rule']}")
    return lines


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
