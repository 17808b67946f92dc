"""Where a person starts: "/" and every sign-in without a safe `next` lead to their role's pages.

Django's default LOGIN_REDIRECT_URL, /accounts/profile/, is no page of this site: a sign-in on
the admin or the browsable API whose `next` was missing or pointed elsewhere (another host, say)
ended on a 404. settings.LOGIN_REDIRECT_URL names this view instead.
"""

from django.shortcuts import redirect
from django.urls import reverse

from fulfillment.warehouse.access import is_warehouse_worker


def landing_url(user) -> str:
    """The operator console for staff, the task list for warehouse workers, else the admin,
    which asks a stranger to sign in and tells a signed-in user without access so."""
    if not user.is_staff and is_warehouse_worker(user):
        return reverse("warehouse:tasks")
    return reverse("admin:index")


def landing(request):
    return redirect(landing_url(request.user))
