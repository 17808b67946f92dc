"""The end-to-end bench's figures for one step at a steady rate, and whether the rate held.

Per order, as its shop feels it: `place` from sending the request to its 201; `to_label` from
the 201 to the order's transition to label_created in the journal; `to_pick_wait` from the 201
to its transition to awaiting_pick (the pick task is open: nothing automatic is left before a
person). The journal's times are the workers' wall clock, the 201's the bench's, on one
machine.

The rule for "the machine holds this rate" (HOLD_RULE, checked by `hold_reasons`): every
order was answered 201, the answers kept up with the schedule, and latency and backlog did not
grow across the step: the p95 of 201→label over the orders due in the step's last third is at
most LATENCY_GROWTH times that of its first third (or LATENCY_SLACK_MS more, whichever is
larger: noise on a small latency is not growth), and the backlog (orders answered 201 but not
yet waiting for their pick) grew by no more than BACKLOG_SECONDS of orders between the end of
the first third and the end of the step. A machine short of capacity by a tenth, at 20 orders
a second, gains 80 orders of backlog over the last two thirds of a minute, and four seconds of
latency: both rules see it.
"""

from fulfillment.proving.e2e_load import LATE_AFTER, Placement
from fulfillment.proving.noop_figures import percentile

LATENCY_GROWTH = 2.0
LATENCY_SLACK_MS = 500.0
BACKLOG_SECONDS = 2.0
ACHIEVED_SHARE = 0.95
HOLD_RULE = (
    f"every order answered 201; 201s at {ACHIEVED_SHARE:.0%} of the target rate or more; p95 of "
    f"201→label over the step's last third at most {LATENCY_GROWTH:g}× its first third's (or "
    f"{LATENCY_SLACK_MS:g} ms more, whichever is larger); backlog (answered 201, not yet waiting "
    f"for the pick) grown by at most {BACKLOG_SECONDS:g} s of orders from the first third's end "
    "to the step's end; every order reached its pick"
)


def step_figures(
    *, rate: float, seconds: float, placements: list[Placement], reached: dict, claimed: dict | None = None
) -> dict:
    """One step's figures; `reached` maps an order id to its (label_created, awaiting_pick)
    times from the journal, for the orders that got that far, and `claimed` to the time a
    worker first claimed it (its first step attempt's start): where the wait was."""
    claimed = claimed or {}
    placed = [p for p in placements if p.placed]
    measured = [p for p in placed if p.order_id in reached]
    label = {p.order_id: (reached[p.order_id][0] - p.answered) * 1000 for p in measured}
    pick = {p.order_id: (reached[p.order_id][1] - p.answered) * 1000 for p in measured}
    start = min(p.scheduled for p in placements)
    first, last = _third(measured, start, seconds, 0), _third(measured, start, seconds, 2)
    figures = {
        "target_rate": rate,
        "seconds": seconds,
        "sent": len(placements),
        "placed": len(placed),
        "measured": len(measured),
        "errors": _errors(placements),
        "late_sends": sum(p.sent - p.scheduled > LATE_AFTER for p in placements),
        "achieved_rate": _achieved(placed, start, seconds),
        **_spread("place_ms", [(p.answered - p.sent) * 1000 for p in placed]),
        **_spread("to_label_ms", list(label.values())),
        **_spread("to_pick_wait_ms", list(pick.values())),
        **_waits(measured, reached, claimed),
        "to_label_p95_ms_first_third": _p95([label[p.order_id] for p in first]),
        "to_label_p95_ms_last_third": _p95([label[p.order_id] for p in last]),
        "backlog_after_first_third": _backlog(placed, reached, start + seconds / 3),
        "backlog_at_end": _backlog(placed, reached, start + seconds),
    }
    figures["not_held_because"] = hold_reasons(figures)
    figures["held"] = not figures["not_held_because"]
    return figures


def _waits(measured: list[Placement], reached: dict, claimed: dict) -> dict:
    """201 → a worker's first claim (the wake-up's wait in the queue), and that claim → the
    label (the chain of steps once a worker has the order)."""
    seen = [p for p in measured if p.order_id in claimed]
    return {
        **_spread("to_first_claim_ms", [(claimed[p.order_id] - p.answered) * 1000 for p in seen]),
        **_spread(
            "first_claim_to_label_ms", [(reached[p.order_id][0] - claimed[p.order_id]) * 1000 for p in seen]
        ),
    }


def hold_reasons(f: dict) -> list[str]:
    """What broke the hold rule in a step's figures; empty when the rate held."""
    reasons = []
    if f["placed"] < f["sent"]:
        reasons.append(f"{f['sent'] - f['placed']} of {f['sent']} orders were not answered 201")
    if f["achieved_rate"] < ACHIEVED_SHARE * f["target_rate"]:
        reasons.append(f"201s came at {f['achieved_rate']}/s for a target of {f['target_rate']}/s")
    if f["measured"] < f["placed"]:
        reasons.append(f"{f['placed'] - f['measured']} orders did not reach their pick in time")
    first, last = f["to_label_p95_ms_first_third"], f["to_label_p95_ms_last_third"]
    grew = (
        first is not None
        and last is not None
        and last > max(LATENCY_GROWTH * first, first + LATENCY_SLACK_MS)
    )
    if grew:
        reasons.append(f"p95 201→label grew from {first:g} ms (first third) to {last:g} ms (last third)")
    grown = f["backlog_at_end"] - f["backlog_after_first_third"]
    if grown > BACKLOG_SECONDS * f["target_rate"]:
        reasons.append(f"the backlog grew by {grown} orders after the first third")
    return reasons


def highest_steady_rate(steps: list[dict]) -> float | None:
    """The highest rate that held, with every lower rate measured holding too; None if the
    lowest did not hold."""
    best = None
    for rate in sorted({step["target_rate"] for step in steps}):
        if not all(step["held"] for step in steps if step["target_rate"] == rate):
            break
        best = rate
    return best


def _third(measured: list[Placement], start: float, seconds: float, index: int) -> list[Placement]:
    low, high = start + seconds * index / 3, start + seconds * (index + 1) / 3
    return [p for p in measured if low <= p.scheduled < high]


def _spread(name: str, values: list[float]) -> dict:
    stem = name.removesuffix("_ms")
    if not values:
        return {f"{stem}_p50_ms": None, f"{stem}_p95_ms": None, f"{stem}_p99_ms": None}
    return {
        f"{stem}_p50_ms": round(percentile(values, 0.50), 1),
        f"{stem}_p95_ms": round(percentile(values, 0.95), 1),
        f"{stem}_p99_ms": round(percentile(values, 0.99), 1),
    }


def _p95(values: list[float]) -> float | None:
    return round(percentile(values, 0.95), 1) if values else None


def _errors(placements: list[Placement]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for p in placements:
        if not p.placed:
            what = str(p.status) if p.status is not None else p.error.split(":")[0] or "no answer"
            errors[what] = errors.get(what, 0) + 1
    return errors


def _achieved(placed: list[Placement], start: float, seconds: float) -> float:
    """201s a second over the step's length, or until its last 201 when that came later."""
    if not placed:
        return 0.0
    return round(len(placed) / max(seconds, max(p.answered for p in placed) - start), 2)


def _backlog(placed: list[Placement], reached: dict, moment: float) -> int:
    """Orders answered 201 by `moment` and not yet waiting for their pick then."""
    return sum(
        1
        for p in placed
        if p.answered <= moment and (p.order_id not in reached or reached[p.order_id][1] > moment)
    )
