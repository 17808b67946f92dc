"""Returns of generated orders, written quickly, so that the return list's and the API's
queries can be measured at scale beside the orders' (fulfillment.proving.generation).

A share of the generated completed orders gets one return each, of one unit of its one line,
written with COPY like the orders: a few days after the order was placed, mostly completed,
some cancelled, the ones still in flight (waiting for their parcel or their inspection) the
newest, and the oldest few flagged needs-attention at the refund. Like the orders they exist
only in our tables (no journal, no label, no refund row), so `check_invariants` flags them.
"""

import random
import uuid
from datetime import timedelta

from django.db import transaction

from fulfillment.models import OrderLine, OrderState, Return, ReturnLine, ReturnState
from fulfillment.proving.generation import rows_write
from processes import clock
from processes.models.process import RunStatus

R = ReturnState
# (state, share, run_status, step): where generated returns stand.
MIX = [
    (R.COMPLETED, 0.90, RunStatus.FINISHED, ""),
    (R.CANCELLED, 0.05, RunStatus.FINISHED, ""),
    (R.AWAITING_PARCEL, 0.04, RunStatus.WAITING, "await_parcel"),
    (R.INSPECTING, 0.01, RunStatus.WAITING, "inspect"),
]
STUCK = 30  # the oldest returns, flagged needs-attention at the refund
GENERATED_EMAIL = "@generated.example"
# Returned: orders placed this long ago, so a finished return (three days after its order)
# is older than those in flight (asked for in the last five days), as in a live table.
SETTLED = timedelta(days=10)


def returns_generate(*, share: float, seed: int = 0, batch: int = 50_000) -> int:
    """Write a return for about `share` of the generated completed orders placed more than ten
    days ago that have none yet; returns how many."""
    if not 0 <= share <= 1:
        raise ValueError(f"The share of orders returned must be between 0 and 1, not {share}.")
    rng, now = random.Random(seed), clock.now()
    lines = (
        OrderLine.objects.filter(
            order__state=OrderState.COMPLETED,
            order__email__endswith=GENERATED_EMAIL,
            order__created_at__lt=now - SETTLED,
        )
        .exclude(order__returns__isnull=False)
        .order_by("order__created_at")
        .values_list("pk", "order_id", "order__created_at", "unit_price")
    )
    chosen = [line for line in lines.iterator(chunk_size=10_000) if rng.random() < share]
    written = 0
    for first in range(0, len(chosen), batch):
        returns, return_lines = [], []
        for index, line in enumerate(chosen[first : first + batch], start=first):
            ret = _return(rng, line, stuck=index < STUCK, now=now)
            returns.append(ret)
            return_lines.append(_line(ret, line[0]))
        with transaction.atomic():
            rows_write(Return, returns)
            rows_write(ReturnLine, return_lines)
        written += len(returns)
    return written


def _return(rng: random.Random, line: tuple, *, stuck: bool, now) -> dict:
    _line_id, order_id, placed, unit_price = line
    state, _share, run_status, step = rng.choices(MIX, weights=[entry[1] for entry in MIX])[0]
    if stuck:
        state, run_status, step = R.REFUNDED, RunStatus.READY, "refund_return"
    finished = run_status == RunStatus.FINISHED
    # In flight: asked for in the last days (an order's return window is weeks, its parcel days).
    created = placed + timedelta(days=3) if finished or stuck else now - timedelta(days=rng.uniform(0, 5))
    moved = created + timedelta(minutes=5) if finished or stuck else created
    return {
        "id": uuid.UUID(int=rng.getrandbits(128), version=4),
        "state": state,
        "run_status": run_status,
        "step": step,
        "order_id": order_id,
        "reason": "Generated at scale",
        "amount": unit_price,
        "approved_by": "rule",
        "created_at": created,
        "updated_at": moved,
        "state_changed_at": moved,
        "step_started_at": moved if step else None,
        "next_run_at": None if finished or stuck else now + timedelta(days=7),
        "deadline_at": now + timedelta(days=7) if run_status == RunStatus.WAITING else None,
        "needs_attention": stuck,
        "attention_reason": "refund_return gave up after 8 attempts (generated)" if stuck else "",
        "attention_step": step if stuck else "",
    }


def _line(ret: dict, order_line_id: int) -> dict:
    accepted = ret["state"] in (R.COMPLETED, R.REFUNDED)
    verdict = ReturnLine.Verdict.ACCEPTED if accepted else ReturnLine.Verdict.PENDING
    return {"ret_id": ret["id"], "order_line_id": order_line_id, "quantity": 1, "verdict": verdict}
