"""How the console shows a process (an order, a return): its waiting sentence, how late it is
at its step, why its step holds it, and durations and moments in words.

Read by the order and return lists and pages; nothing here writes.
"""

from datetime import datetime, timedelta

from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from processes.flow.figures import hold_explanation
from processes.waiting_reason import Waiting
from processes.workflow import registry


def waiting_html(waiting: Waiting | None):
    """The waiting sentence for operators, linked to the incident page of a held process."""
    if waiting is None:
        return ""
    if waiting.url:
        return format_html(
            '<span class="console-waiting console-waiting-{}">{} <a href="{}">Incident</a></span>',
            waiting.case,
            waiting.reason,
            waiting.url,
        )
    return format_html(
        '<span class="console-waiting console-waiting-{}">{}</span>', waiting.case, waiting.reason
    )


def hold_sentence(process, now: datetime) -> dict | None:
    """Why the process waits at its step without spending attempts (its circuit, its turn at a
    slowed service), with the step's condition in the words and figures the Incidents page
    shows; None when it does not."""
    explanation = hold_explanation(process)
    if explanation is None:
        return None
    return {
        **explanation,
        "for": duration(now - explanation["since"]),
        "next": relative(explanation["next_look"], now),
    }


def steps_in_words(process) -> str:
    """The steps a process has done, in order, as words rather than the JSON list the engine keeps."""
    return " → ".join(process.completed_steps) if process.completed_steps else "none yet"


def day_and_time(moment: datetime):
    """A list cell's date, with its time (and zone) on a smaller line below."""
    return format_html(
        '{}<span class="console-sub">{}</span>', moment.strftime("%Y-%m-%d"), moment.strftime("%H:%M UTC")
    )


def breakable(text: str) -> str:
    """`text` escaped, with line-break opportunities after "_" and before "@", so a step name or
    an email wraps at a word's edge in a narrow column instead of mid-word."""
    return mark_safe(escape(text).replace("_", "_<wbr>").replace("@", "<wbr>@"))


def overdue(process, now: datetime) -> str:
    """How long the process has been in its step beyond the step's expected duration, or ''."""
    if not process.step or process.step_started_at is None:
        return ""
    late = now - process.step_started_at - registry.for_process(process).step(process.step).expected_duration
    return duration(late) if late > timedelta(0) else ""


def duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min"
    return f"{hours // 24} days"


def relative(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "–"
    if moment >= now:
        return f"in {duration(moment - now)}"
    return f"{duration(now - moment)} ago"
