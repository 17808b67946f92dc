"""Small things the console said badly: the order page's completed steps, order lines and
address; the pick-task list's problem filter; no "View site" that leads back to the admin. (Alert
subjects: tests/fulfillment/test_alert_outbox.py.)"""

from django.urls import reverse

from fulfillment.models import PickProblem, PickTask
from tests.admin.conftest import SCENARIOS
from tests.conftest import ENGINE_DB

pytestmark = ENGINE_DB


def order_page(client, order) -> str:
    response = client.get(reverse("admin:fulfillment_order_change", args=[order.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_order_page_lists_completed_steps_in_words_lines_with_names_and_the_address_open(
    ops_client, catalogue
):
    order = SCENARIOS["completed"]()

    page = order_page(ops_client, order)

    assert "charge_payment → reserve_inventory → create_label → pick → send_confirmation" in page
    assert '["charge_payment"' not in page  # not the engine's JSON list
    line = order.lines.select_related("product").first()
    assert f">{line.product.name}<" in page
    assert "Ada Lovelace<br>12 Analytical Row<br>N1 7AA<br>London<br>GB" in page
    assert "<details" not in page  # no section is folded away (Django folds a "collapse" one)


def test_pick_tasks_can_be_filtered_by_problem(ops_client, catalogue):
    reported = SCENARIOS["awaiting_pick"]().pick_task
    SCENARIOS["awaiting_pick"]()  # another task, no problem reported
    problem = PickProblem.choices[0][0]
    PickTask.objects.filter(pk=reported.pk).update(problem=problem)

    response = ops_client.get(reverse("admin:fulfillment_picktask_changelist"), {"problem__exact": problem})

    assert response.status_code == 200
    assert [task.pk for task in response.context["cl"].result_list] == [reported.pk]
    assert PickTask.objects.count() == 2


def test_the_admin_offers_no_view_site_link(ops_client):
    page = ops_client.get(reverse("admin:index")).content.decode()
    assert "View site" not in page
