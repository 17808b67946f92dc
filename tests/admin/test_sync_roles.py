"""`manage.py sync_roles` (the release step's): the console's two groups with exactly their
permissions, on a fresh database and again after a release added a page."""

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import call_command

from fulfillment.roles import OPERATORS, SUPPORT

pytestmark = pytest.mark.django_db


def sync() -> str:
    out = StringIO()
    call_command("sync_roles", stdout=out)
    return out.getvalue()


def codenames(group: str) -> set[str]:
    return set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))


def test_a_fresh_database_gets_both_groups_with_their_permissions():
    printed = sync()

    operators, support = codenames(OPERATORS), codenames(SUPPORT)
    assert {"retry_order", "change_address", "pause_circuit", "view_orderbulkoperation"} <= operators
    assert "view_orderbulkoperation" in support and "view_order" in support
    assert all(codename.startswith("view_") for codename in support)
    assert not any(codename.startswith("delete_") for codename in operators)
    assert f"{OPERATORS}: {len(operators)} permissions, 0 users" in printed


def test_run_again_it_gives_back_what_a_group_lost_and_keeps_its_people():
    sync()
    support = Group.objects.get(name=SUPPORT)
    wendy = User.objects.create_user("wendy")
    wendy.groups.add(support)
    # A group as an older release left it: without the bulk operations list's permission, and
    # with one it should not hold.
    support.permissions.remove(Permission.objects.get(codename="view_orderbulkoperation"))
    support.permissions.add(Permission.objects.get(codename="retry_order"))

    printed = sync()

    assert "view_orderbulkoperation" in codenames(SUPPORT) and "retry_order" not in codenames(SUPPORT)
    assert list(support.user_set.all()) == [wendy]
    assert f"{SUPPORT}: {len(codenames(SUPPORT))} permissions, 1 users" in printed
    assert Group.objects.count() == 2
