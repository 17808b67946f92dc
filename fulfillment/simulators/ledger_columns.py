"""How the simulators' ledger lists write their long values, so that a ledger fits 1280 px.

The ledgers hold order ids, idempotency keys and Message-IDs that are 36 to 80 characters long;
written in full they push the times out of sight. A list shows each value shortened the way the
operator console writes an order (its id's first 8 characters), with the full value in the
cell's title for a hover and a copy; searching the list still matches the full value. Times
break only between the date and the time, never inside either.
"""

import re
from datetime import datetime

from django.utils import formats, timezone
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

UUID = re.compile(r"\b([0-9a-f]{8})-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE)
EMPTY = "-"
# Where a key or a Message-ID may wrap in a narrow column: at its separators, not mid-word.
BREAKS = (("…", "…<wbr>"), (":", ":<wbr>"), (".", ".<wbr>"), ("@", "<wbr>@"))
NOWRAP_PAIR = '<span class="ledger-nowrap">{}</span> <span class="ledger-nowrap">{}</span>'


def shortened(value: str, *, limit: int = 64) -> str:
    """`value` with each UUID cut to its first 8 characters and the rest cut at `limit`,
    in a span whose title holds the full value when anything was cut.

    A value written in full stays plain text: it wraps where the browser finds room."""
    if not value:
        return EMPTY
    short = UUID.sub(r"\1…", value)
    if len(short) > limit:
        short = short[: limit - 1] + "…"
    if short == value:
        return value
    return format_html('<span class="ledger-short" title="{}">{}</span>', value, _breakable(short))


def _breakable(text: str) -> str:
    """`text` escaped, with break opportunities at its separators if it is one word (a key, an id);
    a sentence (a subject) wraps at its spaces, and never inside "18.90"."""
    html = escape(text)
    if " " in text:
        return html
    for separator, with_break in BREAKS:
        html = html.replace(separator, with_break)
    return mark_safe(html)


def prefix(value: str, *, keep: int = 11) -> str:
    """An id such as a charge's (`ch_` and 24 hex digits) cut to its first `keep` characters."""
    if len(value) <= keep + 1:
        return value
    return format_html('<span class="ledger-short" title="{}">{}…</span>', value, value[:keep])


def when(value: datetime | None) -> str:
    """A time in the admin's format ("2026-12-07 02:50:37 UTC") that may wrap after the date only."""
    if value is None:
        return EMPTY
    day, _, time = formats.localize(timezone.template_localtime(value)).partition(" ")
    return format_html(NOWRAP_PAIR, day, time)
