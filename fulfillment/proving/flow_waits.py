"""How long orders waited on flow control, read from their journals: the soak's figures.

A wait begins with the journal line the engine writes when an order starts waiting at a step
without spending attempts (its circuit: "... waits: ...", its turn at a slowed service:
"... slowed: ...", its turn under a published limit: "... waits its turn under ...") and ends
with its next attempt at that step.
"""

from bisect import bisect_left
from collections import defaultdict

from processes.models.journal import EventKind, ProcessEvent, StepAttempt

CHUNK = 1000
KINDS = {"circuit": " waits: ", "pace": " slowed: ", "limit": " waits its turn under "}


def flow_waits(order_ids: list[str]) -> dict:
    """{kind: {"orders": how many waited, "longest": seconds}} for circuit, pace and limit."""
    waits = {kind: {"orders": set(), "longest": 0.0} for kind in KINDS}
    for start in range(0, len(order_ids), CHUNK):
        chunk = order_ids[start : start + CHUNK]
        calls = _call_times(chunk)
        notes = ProcessEvent.objects.filter(process_id__in=chunk, kind=EventKind.CIRCUIT)
        for process_id, step, at, reason in notes.values_list("process_id", "step", "created_at", "reason"):
            kind = next((kind for kind, marker in KINDS.items() if marker in reason), None)
            if kind is None:
                continue
            times = calls[(process_id, step)]
            after = bisect_left(times, at)
            if after < len(times):
                waited = (times[after] - at).total_seconds()
                waits[kind]["longest"] = max(waits[kind]["longest"], round(waited, 1))
            waits[kind]["orders"].add(process_id)
    return {kind: {"orders": len(w["orders"]), "longest": w["longest"]} for kind, w in waits.items()}


def _call_times(order_ids: list[str]) -> dict:
    calls = defaultdict(list)
    attempts = StepAttempt.objects.filter(process_id__in=order_ids).order_by("started_at")
    for process_id, step, started in attempts.values_list("process_id", "step", "started_at"):
        calls[(process_id, step)].append(started)
    return calls
