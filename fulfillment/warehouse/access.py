"""Who may use the warehouse pages: signed-in members of the warehouse-worker group.

Which tasks they see is narrowed further by their warehouse assignments (selectors).
"""

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.views.decorators.cache import never_cache

WORKER_GROUP = "Warehouse workers"


def is_warehouse_worker(user) -> bool:
    return user.is_authenticated and user.is_active and user.groups.filter(name=WORKER_GROUP).exists()


def worker_required(view):
    """Send strangers to the sign-in page and refuse (403) anyone not in the worker group."""

    @wraps(view)
    @never_cache
    def guarded(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("warehouse:login"))
        if not is_warehouse_worker(request.user):
            raise PermissionDenied("Only warehouse workers can use these pages.")
        return view(request, *args, **kwargs)

    return guarded
