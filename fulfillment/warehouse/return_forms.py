"""The warehouse's return forms: a worker's verdict on each line of a return, and a scanned
parcel's tracking number.

They check the shape of the input (a verdict on every line, a reason for each rejection);
whether the return may be judged now is the inspection service's decision
(fulfillment.returns.inspection).
"""

from django import forms

from fulfillment.models import ReturnLine
from fulfillment.returns.inspection import LineVerdict

ACCEPT, REJECT = "accept", "reject"
VERDICTS = [(ACCEPT, "Accept"), (REJECT, "Reject")]
REASON_ATTRS = {"placeholder": "e.g. worn, broken", "autocomplete": "off"}
TRACKING_ATTRS = {
    "autocomplete": "off",
    "autocapitalize": "characters",
    "autocorrect": "off",
    "spellcheck": "false",
    "enterkeyhint": "go",
    "placeholder": "Scan or type",
    "autofocus": True,
}


class InspectionForm(forms.Form):
    """Accept or reject each line of the return; a rejection says why."""

    def __init__(self, *args, lines: list[ReturnLine], **kwargs):
        super().__init__(*args, **kwargs)
        self.lines = lines
        for line in lines:
            self.fields[f"verdict_{line.pk}"] = forms.ChoiceField(
                label="Verdict", choices=VERDICTS, widget=forms.RadioSelect
            )
            self.fields[f"reason_{line.pk}"] = forms.CharField(
                label="Reason for rejecting",
                required=False,
                max_length=300,
                widget=forms.TextInput(REASON_ATTRS),
            )

    def clean(self):
        data = super().clean()
        for number, line in enumerate(self.lines, start=1):
            if data.get(f"verdict_{line.pk}") == REJECT and not data.get(f"reason_{line.pk}", "").strip():
                self.add_error(f"reason_{line.pk}", f"Line {number}: say why it is rejected.")
        if self.errors:
            wrong = len({name.partition("_")[2] for name in self.errors})
            lines = f"{wrong} line{'s' if wrong > 1 else ''}"
            raise forms.ValidationError(f"Nothing was saved: {lines} to check.")
        return data

    def verdicts(self) -> list[LineVerdict]:
        data = self.cleaned_data
        return [
            LineVerdict(line.pk, data[f"verdict_{line.pk}"] == ACCEPT, data[f"reason_{line.pk}"].strip())
            for line in self.lines
        ]

    def rows(self):
        """(number, line, verdict field, reason field, the line's error) for the template; the
        cursor starts in the first line to fix."""
        rows = []
        for number, line in enumerate(self.lines, start=1):
            verdict, reason = self[f"verdict_{line.pk}"], self[f"reason_{line.pk}"]
            error = ""
            if verdict.errors:
                error = f"Line {number}: accept or reject it."
            elif reason.errors:
                error = reason.errors[0]
            rows.append((number, line, verdict, reason, error))
        first = next((row for row in rows if row[4]), None)
        if first:
            first[3].field.widget.attrs["autofocus"] = True
        return rows


class ParcelScanForm(forms.Form):
    """The tracking number on a return parcel's label."""

    tracking_number = forms.CharField(
        label="Tracking number",
        max_length=64,
        widget=forms.TextInput(TRACKING_ATTRS),
        error_messages={
            "required": "Scan or type the tracking number on the parcel's label.",
            "max_length": "That is longer than any tracking number: scan the label's barcode again.",
        },
    )
