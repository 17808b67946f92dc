"""An operator requests a return for a customer, from the order's page.

The form asks how many units of each line come back and why, then calls the same service as
the API (fulfillment.returns.requests.return_request), which checks everything under the
order's lock: a bad quantity, an order outside its window or not completed is shown on the form
in the service's words, and nothing is created.
"""

import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from fulfillment.errors import InvalidReturn, ReturnNotAllowed
from fulfillment.interventions import operator
from fulfillment.models import Order, OrderState, Return
from fulfillment.returns.requests import ReturnLineRequest, return_request, units_not_returned

PERMISSION = "fulfillment.request_return"
MAY_NOT = "You may not request returns: your account does not have the permission “{}”. Ask an administrator."


class ReturnRequestForm(forms.Form):
    """A quantity for each of the order's lines (0: not returned) and the customer's reason."""

    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=500,
        help_text="Why the customer sends the items back; the customer's email repeats it.",
    )

    def __init__(self, *args, order: Order, **kwargs):
        super().__init__(*args, **kwargs)
        left = units_not_returned(order)
        self.lines = list(order.lines.select_related("product"))
        for line in self.lines:
            self.fields[_field(line.pk)] = forms.IntegerField(
                label=f"{line.sku} {line.product.name}",
                required=False,
                initial=0,
                min_value=0,
                help_text=f"{left[line.pk]} of the {line.quantity} shipped may still come back "
                f"({line.unit_price} each).",
            )

    def line_requests(self) -> list[ReturnLineRequest]:
        quantities = ((line.pk, self.cleaned_data.get(_field(line.pk)) or 0) for line in self.lines)
        return [ReturnLineRequest(pk, quantity) for pk, quantity in quantities if quantity]


def _field(line_id: int) -> str:
    return f"line_{line_id}"


def return_request_refusal(order: Order) -> str:
    """Why the order's page offers no return now ('' when it does); advisory, the service checks."""
    if order.state != OrderState.COMPLETED:
        return f"it is {order.get_state_display().lower()}: only a completed order can be returned"
    return ""


def return_request_view(model_admin, request, object_id: str):
    """GET: the form; POST: request the return and go to its page, or show what is wrong."""
    if not request.user.has_perm(PERMISSION):
        name = dict(Return._meta.permissions)["request_return"]
        raise PermissionDenied(MAY_NOT.format(name))
    if not _is_uuid(object_id):
        raise Http404("No such order.")
    order = get_object_or_404(Order, pk=object_id)
    form = ReturnRequestForm(request.POST if request.method == "POST" else None, order=order)
    if request.method == "POST" and form.is_valid():
        try:
            ret = return_request(
                order=order,
                lines=form.line_requests(),
                reason=form.cleaned_data["reason"],
                actor=operator(request.user),
            )
        except (InvalidReturn, ReturnNotAllowed) as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, _requested(ret))
            return HttpResponseRedirect(reverse("admin:fulfillment_return_change", args=[ret.pk]))
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": Order._meta,
        "title": f"Request a return of order {str(order.pk)[:8]}",
        "order": order,
        "form": form,
        "refusal": return_request_refusal(order),
        "action": {"label": "Request the return"},
        "back_url": reverse("admin:fulfillment_order_change", args=[order.pk]),
    }
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "admin/fulfillment/order/request_return.html", context, status=status)


def _requested(ret: Return) -> str:
    units = ", ".join(
        f"{line.quantity} × {line.order_line.sku}" for line in ret.lines.select_related("order_line")
    )
    return (
        f"Return {str(ret.pk)[:8]} requested for order {str(ret.order_id)[:8]}: {units}, "
        f"worth {ret.amount:.2f} {ret.order.currency}; {ret.step} is next."
    )


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
