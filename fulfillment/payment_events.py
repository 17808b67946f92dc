"""What the payment provider's events do to an order: the order workflow's `on_message` hook.

The engine (processes.inbox) stores every event delivered to an order and offers it here
under the order's row lock. Returning True marks it consumed (journalled "acted on ...");
False keeps it pending for a later version of the workflow that knows what to do with it.

- `charge.disputed`: the customer disputed the charge with their bank. A person must decide
  (contest it, or stop and refund), so the order is flagged needs-attention: it stops where
  it is, shipped or not, until an operator resolves it.
- `charge.succeeded`, `charge.refunded`: late confirmations of what the charge and refund
  steps already learn through their own idempotent calls. Journal only.
- anything else: kept, unconsumed.
"""

from processes.attention import raise_attention

JOURNAL_ONLY = {"charge.succeeded", "charge.refunded"}


def order_message_handle(order, message) -> bool:
    if message.name == "charge.disputed":
        reason = f"the payment provider reports a dispute of the charge ({_event_id(message)})"
        raise_attention(order, reason, about_step=False)
        return True
    return message.name in JOURNAL_ONLY


def _event_id(message) -> str:
    return str(message.payload.get("id", message.dedup_key)) if isinstance(message.payload, dict) else ""
