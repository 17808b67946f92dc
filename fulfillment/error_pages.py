"""The 403 and 404 pages, in the look of the part of the site the person was on.

Django's own are a bare "403 Forbidden" with no way on: an operator who signed in at the
warehouse, or a support user who opened an action's link, was left there. These say what was
refused, what the person may do instead (the pages their role opens) and offer to sign out.
The warehouse's pages (/warehouse/) get the phone look, the API (/api/) JSON as its contract
says, everything else the admin's look. Django calls them when DEBUG is off (fulfillment.urls
names them) and for every PermissionDenied, DEBUG or not.
"""

from django.contrib import admin
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from fulfillment.warehouse.access import is_warehouse_worker

WAREHOUSE_PREFIX = "/warehouse/"
API_PREFIX = "/api/"
API_DETAILS = {
    403: ("permission_denied", "You do not have permission to perform this action."),
    404: ("not_found", "No such resource."),
}


def permission_denied(request, exception=None):
    return _error_page(request, 403, exception)


def page_not_found(request, exception=None):
    return _error_page(request, 404, exception)


def _error_page(request, status: int, exception) -> JsonResponse | TemplateResponse:
    if request.path.startswith(API_PREFIX):
        code, detail = API_DETAILS[status]
        return JsonResponse({"code": code, "detail": detail}, status=status)
    user = request.user if hasattr(request, "user") else None
    reason = _reason(exception) if status == 403 else ""  # a 404's message names our models
    context = {"reason": reason, "worker": bool(user) and is_warehouse_worker(user)}
    if request.path.startswith(WAREHOUSE_PREFIX):
        template = f"warehouse/{status}.html"
    else:
        template = f"{status}.html"
        context.update(admin.site.each_context(request), title=_TITLES[status])
        context["console_url"] = _console_url(user)
    return TemplateResponse(request, template, context, status=status).render()


_TITLES = {403: "You may not do this", 404: "No such page"}


def _reason(exception) -> str:
    """The refusal's own sentence (a PermissionDenied's message), never a 404's internals."""
    if exception is None or not exception.args:
        return ""
    message = str(exception.args[0])
    return message if message.endswith(".") and len(message) < 200 else ""


def _console_url(user) -> str:
    """Where a signed-in back-office user can go on: the dashboard if they may see orders."""
    if user is not None and user.is_active and user.is_staff and user.has_perm("fulfillment.view_order"):
        return reverse("admin:fulfillment_order_dashboard")
    return ""
