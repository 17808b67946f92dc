"""The dashboard: each figure is right, and each links to the orders behind it."""

import re
from html import unescape

from django.urls import reverse

from fulfillment.monitoring import dashboard_figures
from tests.admin.conftest import SCENARIOS
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB
DASHBOARD = reverse("admin:fulfillment_order_dashboard")


def links(page: str, element_id: str) -> list[str]:
    """The hrefs inside the element with this id (up to its section's end)."""
    start = page.rindex("<", 0, page.index(f'id="{element_id}"'))
    end = page.find("</section>", start)
    return [unescape(h) for h in re.findall(r'href="([^"]+)"', page[start : end if end > 0 else None])]


def listed_ids(client, url) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    return {str(order.pk) for order in response.context["cl"].result_list}


def test_figures(catalogue):
    """States, attention, stuck per step, the oldest pick, failure rates and completions add up."""
    SCENARIOS["completed"]()
    SCENARIOS["cancelled"]()
    flagged = SCENARIOS["attention_confirmation"]()
    waiting = SCENARIOS["awaiting_pick"]()  # last: driving the others runs the simulated picker

    figures = dashboard_figures()

    per_state = {value: n for value, _, n in figures.per_state}
    assert per_state == {
        **dict.fromkeys(per_state, 0),
        "picked": 1,
        "awaiting_pick": 1,
        "completed": 1,
        "cancelled": 1,
    }
    assert figures.needs_attention == 1 and figures.stuck_total == 1
    assert dict((step, n) for step, _, n in figures.stuck_per_step)["send_confirmation"] == 1
    assert figures.oldest_pick.order_id == waiting.pk
    rates = {(row["step"], row["direction"]): row for row in figures.failures_per_step}
    assert rates[("send_confirmation", "forward")]["failed"] == 8
    assert rates[("send_confirmation", "forward")]["total"] == 9  # 8 for the flagged order, 1 that passed
    assert rates[("charge_payment", "forward")]["failed"] == 1  # the declined card
    assert sum(n for _, n in figures.completed_per_hour) == 1
    assert flagged.needs_attention


def test_page_links_each_figure_to_its_orders(ops_client, catalogue):
    done = SCENARIOS["completed"]()
    flagged = SCENARIOS["attention_confirmation"]()
    waiting = SCENARIOS["awaiting_pick"]()

    page = ops_client.get(DASHBOARD).content.decode()

    assert listed_ids(ops_client, links(page, "card-attention")[0]) == {str(flagged.pk)}
    assert listed_ids(ops_client, links(page, "card-stuck")[0]) == {str(flagged.pk)}
    assert links(page, "card-oldest-pick")[0] == reverse("admin:fulfillment_order_change", args=[waiting.pk])
    stuck_links = links(page, "stuck-per-step")
    confirmation = next(url for url in stuck_links if "send_confirmation" in url)
    assert listed_ids(ops_client, confirmation) == {str(flagged.pk)}
    state_links = links(page, "orders-per-state")
    completed = next(url for url in state_links if "state__exact=completed" in url)
    assert listed_ids(ops_client, completed) == {str(done.pk)}
    hour_links = [url for url in links(page, "chart-completed") if "state_changed_at__gte" in url]
    assert len(hour_links) == 24
    assert set().union(*(listed_ids(ops_client, url) for url in hour_links)) == {str(done.pk)}
    for url in links(page, "failure-rates"):
        assert ops_client.get(url).status_code == 200, url


def test_page_has_svg_charts_and_the_queue_pages(ops_client, catalogue):
    SCENARIOS["completed"]()

    page = ops_client.get(DASHBOARD).content.decode()

    charts = re.findall(r'<svg viewBox[^>]*role="img".*?</svg>', page, flags=re.S)
    assert len(charts) == 2 and all("<rect" in chart for chart in charts)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing loaded from elsewhere
    queue = links(page, "queue-pages")
    assert reverse("admin:django_q_failure_changelist") in queue
    assert reverse("admin:django_q_schedule_changelist") in queue
    for url in queue:
        assert ops_client.get(url).status_code == 200
