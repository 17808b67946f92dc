"""Filters of the order list (django-filter): `?status=<state>`."""

import django_filters
from django import forms

from fulfillment.models import Order, OrderState


class OrderFilterForm(forms.Form):
    def clean_status(self):
        """An empty `?status=` is a mistake, not "any status": django-filter would ignore it."""
        if "status" in self.data and not self.cleaned_data["status"]:
            raise forms.ValidationError("Give one of the order states, e.g. completed.")
        return self.cleaned_data["status"]


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(field_name="state", choices=OrderState.choices)

    class Meta:
        model = Order
        fields = ["status"]
        form = OrderFilterForm
