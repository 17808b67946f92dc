"""The operator dashboard: where orders are, which are stuck, how the steps fail, what completes,
and where the returns are.

Every figure links to the list (or page) that shows the orders behind it. The charts are SVG
drawn on the server: nothing is loaded from elsewhere.
"""

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

from fulfillment.models import Order
from fulfillment.monitoring import Dashboard, dashboard_figures, stuck_q
from fulfillment.picking.tasks import PICK_STEP
from fulfillment.returns.selectors import ReturnFigures, return_dashboard_figures
from processes import clock
from processes.flow.figures import open_incident_count
from processes.waiting_reason import circuits_for, waiting_reason

QUEUE_PAGES = [
    ("django_q_ormq_changelist", "Queued tasks"),
    ("django_q_failure_changelist", "Failed tasks"),
    ("django_q_schedule_changelist", "Scheduled tasks"),
    ("django_q_success_changelist", "Successful tasks"),
]
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 720, 160, 4


# A dashboard left open on a wall screen reloads itself this often (its figures cost a few
# index-only queries: see explain_scale's "dashboard" check).
REFRESH_SECONDS = 30


def dashboard_view(model_admin, request):
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    figures = dashboard_figures(clock.now())
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Operator dashboard",
        "figures": figures,
        "states": _state_rows(figures),
        "stuck": _stuck_rows(figures),
        "stuck_orders": _stuck_orders(figures.now),
        "failures": _failure_rows(figures),
        "hours": _hour_bars(figures),
        "state_bars": _state_bars(figures),
        "links": _links(figures),
        "queue_pages": _queue_pages(),
        "incidents": _incidents(request),
        "returns": _returns(return_dashboard_figures(figures.now)),
        "refresh_seconds": REFRESH_SECONDS,
    }
    return TemplateResponse(request, "admin/fulfillment/order/dashboard.html", context)


def order_list_url(**params) -> str:
    url = reverse("admin:fulfillment_order_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _links(figures: Dashboard) -> dict:
    pick = figures.oldest_pick
    return {
        "all": order_list_url(),
        "attention": order_list_url(needs_attention__exact=1),
        "stuck": order_list_url(stuck="yes"),
        "oldest_pick": reverse("admin:fulfillment_order_change", args=[pick.order_id]) if pick else "",
        "pick_age": _age(figures.now - pick.created_at) if pick else "",
        "waiting_picks": order_list_url(step=PICK_STEP),
    }


def return_list_url(**params) -> str:
    url = reverse("admin:fulfillment_return_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def _returns(figures: ReturnFigures) -> dict:
    """Returns per state, needing attention and stuck, each linking to its returns."""
    return {
        "figures": figures,
        "states": [
            {
                "label": label,
                "count": n,
                "shown": _shown(n, estimated=value in figures.estimated_states),
                "url": return_list_url(state__exact=value),
            }
            for value, label, n in figures.per_state
        ],
        "attention_url": return_list_url(needs_attention__exact=1),
        "stuck_url": return_list_url(stuck="yes"),
        "all_url": return_list_url(),
    }


def _incidents(request) -> dict | None:
    """The open incidents (steps whose circuit is open or paused), for those who may see them."""
    if not request.user.has_perm("processes.view_circuit"):
        return None
    return {"open": open_incident_count(), "url": reverse("admin:processes_circuit_changelist")}


def _state_rows(figures: Dashboard) -> list[dict]:
    return [
        {
            "label": label,
            "count": n,
            "shown": _shown(n, estimated=value in figures.estimated_states),
            "url": order_list_url(state__exact=value),
        }
        for value, label, n in figures.per_state
    ]


def _shown(n: int, *, estimated: bool) -> str:
    """An estimate reads as one: 'about' and three significant digits (899,837 → about 900,000)."""
    if not estimated:
        return str(n)
    return f"about {round(n, 3 - len(str(n))):,}"


def _stuck_rows(figures: Dashboard) -> list[dict]:
    return [
        {
            "step": step,
            "expected": _age(expected),
            "count": n,
            "url": order_list_url(stuck="yes", step=step),
        }
        for step, expected, n in figures.stuck_per_step
    ]


def _stuck_orders(now: datetime, *, shown: int = 10) -> list[dict]:
    """The stuck orders longest in their step, each with why it waits (the sentence the list
    and its page show): one query for the orders, one for the circuits holding any of them."""
    orders = list(
        Order.objects.filter(stuck_q(now))
        .select_related("pick_task__assignee")
        .order_by("step_started_at", "pk")[:shown]
    )
    circuits = circuits_for(orders)
    return [
        {
            "order": order,
            "url": reverse("admin:fulfillment_order_change", args=[order.pk]),
            "waiting": waiting_reason(order, now=now, circuits=circuits),
        }
        for order in orders
    ]


def _failure_rows(figures: Dashboard) -> list[dict]:
    since = (figures.now - timedelta(hours=1)).isoformat()
    rows = []
    for row in figures.failures_per_step:
        undo = row["direction"] == "compensate"
        params = {"step": row["step"], "direction": row["direction"], "started_at__gte": since}
        rows.append(
            {
                **row,
                "name": f"undo {row['step']}" if undo else row["step"],
                "percent": None if row["rate"] is None else round(100 * row["rate"]),
                "url": _admin_list("processes_stepattempt_changelist", params),
                "failed_url": _admin_list(
                    "processes_stepattempt_changelist",
                    {**params, "outcome__in": "failed,lease_lost,abandoned"},
                ),
            }
        )
    return rows


def _hour_bars(figures: Dashboard) -> dict:
    """Completed orders per hour as SVG bars, each a link to those orders."""
    hours = figures.completed_per_hour
    peak = max((n for _, n in hours), default=0) or 1
    width = CHART_WIDTH / len(hours)
    bars = []
    for i, (start, n) in enumerate(hours):
        height = round((CHART_HEIGHT - 34) * n / peak)  # room for the count above the bar
        bars.append(
            {
                "x": round(i * width + BAR_GAP / 2, 1),
                "y": CHART_HEIGHT - 16 - height,
                "width": round(width - BAR_GAP, 1),
                "height": height,
                "count": n,
                "label": start.strftime("%H"),
                "title": f"{start:%Y-%m-%d %H}:00–{start + timedelta(hours=1):%H}:00 UTC: {n} completed",
                "url": _completed_between(start, start + timedelta(hours=1)),
                "label_x": round(i * width + width / 2, 1),
            }
        )
    return {
        "bars": bars,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "peak": peak,
        "total": sum(n for _, n in hours),
    }


def _state_bars(figures: Dashboard) -> dict:
    """Orders per state as horizontal SVG bars."""
    peak = max((n for _, _, n in figures.per_state), default=0) or 1
    row_height, label_width, bar_space = 22, 150, CHART_WIDTH - 150 - 60
    bars = [
        {
            "y": i * row_height,
            "text_y": i * row_height + 15,
            "label": label,
            "count": n,
            "shown": _shown(n, estimated=value in figures.estimated_states),
            "width": round(bar_space * n / peak) if n else 0,
            "count_x": label_width + (round(bar_space * n / peak) if n else 0) + 6,
            "url": order_list_url(state__exact=value),
            "css": value,
        }
        for i, (value, label, n) in enumerate(figures.per_state)
    ]
    return {"bars": bars, "height": row_height * len(bars), "width": CHART_WIDTH, "label_width": label_width}


def _completed_between(start: datetime, end: datetime) -> str:
    return order_list_url(
        state__exact="completed",
        state_changed_at__gte=start.isoformat(),
        state_changed_at__lt=end.isoformat(),
    )


def _admin_list(name: str, params: dict) -> str:
    try:
        return f"{reverse(f'admin:{name}')}?{urlencode(params)}"
    except NoReverseMatch:
        return ""


def _queue_pages() -> list[tuple[str, str]]:
    pages = []
    for name, label in QUEUE_PAGES:
        try:
            pages.append((label, reverse(f"admin:{name}")))
        except NoReverseMatch:
            continue  # OrmQ is only registered with the ORM broker
    return pages


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    hours, minutes = divmod(seconds // 60, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} days"
