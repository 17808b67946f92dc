"""The state of one published service limit, and the one decision made on it: may this call go?

Pure: no database, no clock. `processes.flow.limiter_stores` keeps the state where every worker
sees it (PostgreSQL by default, Redis when configured) and runs `admit` or `give_back` on it
atomically; `processes.flow.limits` does the rest (holds, journal lines, wake-ups).
"""

from dataclasses import dataclass, field

from processes.policies import ServiceLimit


@dataclass
class LimiterState:
    """What one service limit (for one flow key) remembers, times in epoch seconds."""

    recent: list[float] = field(default_factory=list)  # the latest admitted calls, oldest first
    next_slot: float | None = None  # the next free slot handed to a call waiting for the rate
    permits: dict[str, float] = field(default_factory=dict)  # calls in flight: {process: lease end}

    def as_dict(self) -> dict:
        return {"recent": self.recent, "next_slot": self.next_slot, "permits": self.permits}

    @classmethod
    def from_dict(cls, data: dict | None) -> "LimiterState":
        data = data or {}
        return cls(
            recent=[float(t) for t in data.get("recent", [])],
            next_slot=data.get("next_slot"),
            permits={str(k): float(v) for k, v in data.get("permits", {}).items()},
        )


@dataclass(frozen=True)
class Turn:
    """The decision: go now, or look again at `at` (epoch seconds)."""

    go: bool
    at: float | None = None


def admit(
    state: LimiterState,
    limit: ServiceLimit,
    *,
    process: str,
    now: float,
    lease_ends: float,
    waiting: bool,
    margin: float,
    recheck: float,
) -> Turn:
    """May the process's call go now under the limit? Changes the state either way: an admitted
    call is logged (and holds a place until it ends or its lease does); a call held back for
    the rate is handed the next free slot, one `per_seconds / calls` after the one before.
    `waiting`: the process already waits under this limit (its slot came, or it was woken),
    so calls queued for a slot do not go ahead of it."""
    window = limit.per_seconds + margin
    state.recent = [t for t in state.recent if t > now - window]
    state.permits = {pk: end for pk, end in state.permits.items() if end > now and pk != process}
    rate_ok = limit.calls is None or len(state.recent) < limit.calls
    room = limit.concurrency is None or len(state.permits) < limit.concurrency
    queued = state.next_slot is not None and state.next_slot > now and not waiting
    if rate_ok and room and not queued:
        if limit.calls is not None:
            state.recent = [*state.recent, now][-limit.calls :]
        if limit.concurrency is not None:
            state.permits[process] = lease_ends
        return Turn(go=True)
    if limit.calls is None or (rate_ok and not queued):
        return Turn(go=False, at=now + recheck)  # held for the concurrency: a call's end wakes it
    frees = state.recent[0] + window if len(state.recent) >= limit.calls else now
    slot = max(frees, now, state.next_slot or now)
    state.next_slot = slot + limit.per_seconds / limit.calls
    return Turn(go=False, at=slot)


def give_back(state: LimiterState, *, process: str) -> bool:
    """The process's call ended: free its place. False when it held none."""
    return state.permits.pop(process, None) is not None
