"""The warehouse pages' forms: what a worker enters to confirm a pick or report a problem.

They check the shape of the input only; whether a SKU or a quantity is right is the pick
service's decision (fulfillment.picking.tasks), which the form then shows next to the wrong line.
"""

import re

from django import forms
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from fulfillment.models import PickProblem
from fulfillment.picking.tasks import PickedLine
from fulfillment.warehouse.selectors import PickLine

SKU_ATTRS = {
    "autocomplete": "off",
    "autocapitalize": "characters",
    "autocorrect": "off",
    "spellcheck": "false",
    "enterkeyhint": "next",
    "placeholder": "Scan or type",
}
CODE = re.compile(r"\b[A-Z0-9]+(?:-[A-Z0-9]+)+\b")
QUANTITY_ATTRS = {"inputmode": "numeric", "pattern": "[0-9]*", "autocomplete": "off", "enterkeyhint": "next"}


class ConfirmPickForm(forms.Form):
    """One SKU and one quantity per order line, as scanned and counted at the bin."""

    def __init__(self, *args, lines: list[PickLine], **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        self.line_errors: dict[int, str] = {}
        for pick in lines:
            self.fields[f"sku_{pick.line.pk}"] = forms.CharField(
                label="SKU", max_length=64, widget=forms.TextInput(attrs=SKU_ATTRS)
            )
            self.fields[f"qty_{pick.line.pk}"] = forms.IntegerField(
                label="Count", min_value=0, max_value=100_000, widget=forms.NumberInput(attrs=QUANTITY_ATTRS)
            )

    def picked(self) -> dict[int, PickedLine]:
        data = self.cleaned_data
        return {
            pick.line.pk: PickedLine(data[f"sku_{pick.line.pk}"], data[f"qty_{pick.line.pk}"])
            for pick in self.lines
        }

    def refuse(self, errors: dict[int, str]) -> None:
        """Show the service's verdict next to each wrong line."""
        self.line_errors = errors
        wrong = len(errors)
        self.add_error(None, f"Nothing was confirmed: {wrong} line{'s' if wrong > 1 else ''} to check.")

    def rows(self):
        """(pick line, SKU field, quantity field, the line's error) for the template; the
        cursor starts in the first line to fix, or the first line."""
        rows = []
        for pick in self.lines:
            sku, quantity = self[f"sku_{pick.line.pk}"], self[f"qty_{pick.line.pk}"]
            error = self.line_errors.get(pick.line.pk, "")
            if sku.errors:
                error = f"Line {pick.number}: scan or type the SKU."
            elif quantity.errors:
                error = f"Line {pick.number}: enter the count as a whole number."
            rows.append((pick, sku, quantity, codes_unbroken(error)))
        first = next((row for row in rows if row[3]), rows[0] if rows else None)
        if first:
            first[1].field.widget.attrs["autofocus"] = True
        return rows


class ProblemForm(forms.Form):
    """Why the pick cannot be done."""

    problem = forms.ChoiceField(label="What is wrong?", choices=PickProblem.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        label="Details for the operator",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "e.g. bin A-01-2 is empty"}),
    )


def codes_unbroken(text: str) -> SafeString:
    """Escape `text` and keep codes like TEE-042 on one line (browsers break at hyphens)."""
    return mark_safe(CODE.sub(lambda code: f'<span class="nowrap">{code.group()}</span>', escape(text)))
