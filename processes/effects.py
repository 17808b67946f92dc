"""What undoing a step gives back, as a step foretells it for a bulk operation's preview.

A step's `undo_preview(process)` lists the effects its undo will have (a refund of an amount in
a currency, units of a SKU back in stock, a label voided); `not_done_preview(process)` what will
not happen because the process stops before the step (a confirmation mail not sent). The
preview (processes.bulk_preview) adds them up by kind and key; the engine never reads them.
"""

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class Effect:
    """`quantity` of `kind` under `key`: ("refund", "EUR", 62.50), ("units released", "MUG-001", 2),
    ("label voided", "SIMPOST", 1). `kind` is what the preview's figure is called."""

    kind: str
    key: str
    quantity: Decimal | int = 1
