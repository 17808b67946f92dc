"""manage.py change_address: the admin's Change address from a shell, with clear refusals."""

import pytest
from django.core.management import CommandError, call_command

from fulfillment.simulators.picker import simulated_picker_run
from processes import clock
from tests.conftest import ENGINE_DB
from tests.factories import ADDRESS, drive, place_order

pytestmark = ENGINE_DB


def test_changes_the_fields_given_and_redoes_the_label(catalogue, capsys):
    with clock.frozen():
        order = drive(place_order(), pick=False)
        call_command(
            "change_address", str(order.pk), "--postal-code", "N2 8BB", "--reason", "moved", "--by", "olga"
        )
    order.refresh_from_db()
    assert order.shipping_address == {**ADDRESS, "postal_code": "N2 8BB"} and order.direction == "redo"
    assert "N2 8BB London" in capsys.readouterr().out


def test_refusals_say_why_and_change_nothing(catalogue):
    with clock.frozen():
        order = drive(place_order(), pick=False)
        with pytest.raises(CommandError, match="country"):
            call_command("change_address", str(order.pk), "--country", "XX", "--reason", "moved")
        with pytest.raises(CommandError, match="No order"):
            call_command("change_address", "not-an-id", "--reason", "moved")
        simulated_picker_run(delay=0)
        with pytest.raises(CommandError, match="its items have been picked"):
            call_command("change_address", str(order.pk), "--city", "Leeds", "--reason", "moved")
    order.refresh_from_db()
    assert order.shipping_address == ADDRESS
