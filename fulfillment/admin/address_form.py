"""The operator's form for a new shipping address (the action "Change address" of an order).

Checked by the API's own rules (fulfillment.api.serializers.AddressIn), so an address the API
refuses is refused here with the same words, next to its field.
"""

from django import forms

from fulfillment.address_change import ADDRESS_FIELDS
from fulfillment.api.serializers import AddressIn


class AddressForm(forms.Form):
    """The new address and the reason, shown filled with the order's current address."""

    name = forms.CharField(max_length=200)
    line1 = forms.CharField(max_length=200, label="Address line 1")
    line2 = forms.CharField(max_length=200, required=False, label="Address line 2")
    city = forms.CharField(max_length=100)
    postal_code = forms.CharField(max_length=20, label="Postcode")
    country = forms.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 code in upper case, e.g. DE.")
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Written to the order's journal with your name, beside the old and the new address.",
    )

    def __init__(self, data=None, *, order=None, **kwargs):
        initial = (
            {name: (order.shipping_address or {}).get(name, "") for name in ADDRESS_FIELDS} if order else {}
        )
        super().__init__(data, initial=initial, **kwargs)

    @classmethod
    def for_processes(cls, data, processes: list) -> tuple[forms.Form | None, str]:
        """The form for one order, filled with its address; None and why for several."""
        if len(processes) != 1:
            return None, "Every order has its own address: change it one order at a time."
        return cls(data, order=processes[0]), ""

    def clean(self):
        cleaned = super().clean()
        checked = AddressIn(data={name: cleaned.get(name, "") for name in ADDRESS_FIELDS})
        if not checked.is_valid():
            for name, errors in checked.errors.items():
                if name in self.fields and name not in self.errors:
                    self.add_error(name, [str(error) for error in errors])
        else:
            cleaned["address"] = dict(checked.validated_data)
        return cleaned

    def service_arguments(self) -> dict:
        return {"reason": self.cleaned_data["reason"].strip(), "address": self.cleaned_data["address"]}
