"""A simulated carrier, SIMPOST: labels with unique tracking numbers, voids, idempotency, faults."""

import secrets
from collections.abc import Iterable

from django.db.models import Count, Q
from django.utils import timezone

from fulfillment.gateways import AddressRejected, Label, LabelLedger, LabelVoid
from fulfillment.simulators.calls import Reason, refusal_record
from fulfillment.simulators.faults import fault_after_effect, fault_before_effect
from fulfillment.simulators.idempotency import Outcome, idempotent_call
from fulfillment.simulators.models import LabelRecord, Operation, Service

CARRIER_NAME = "SIMPOST"
# The carrier refuses every label for this postcode, as a real one refuses an address it
# cannot deliver to: the order's problem, never the carrier's.
UNDELIVERABLE_POSTCODE = "00000"


class CarrierSimulator:
    """The default ShippingCarrier: every call is one remote request with its own committed effect."""

    def create_label(
        self, *, reference: str, address: dict, weight_grams: int, idempotency_key: str, account: str = ""
    ) -> Label:
        create = Operation.CREATE_LABEL
        mode = fault_before_effect(Service.CARRIER, create, reference, idempotency_key, account)
        if str(address.get("postal_code", "")).strip() == UNDELIVERABLE_POSTCODE:
            refusal_record(
                service=Service.CARRIER,
                operation=Operation.CREATE_LABEL,
                reference=reference,
                key=idempotency_key,
                reason=Reason.ADDRESS,
            )
            raise AddressRejected(f"carrier.create_label: no delivery to postcode {UNDELIVERABLE_POSTCODE}")
        record = idempotent_call(
            service=Service.CARRIER,
            operation=Operation.CREATE_LABEL,
            key=idempotency_key,
            reference=reference,
            request={"reference": reference, "address": address, "weight_grams": weight_grams},
            effect=lambda: _create_effect(reference, address, weight_grams, idempotency_key),
        )
        fault_after_effect(Service.CARRIER, Operation.CREATE_LABEL, mode)
        return _label(record.response["tracking_number"])

    def labels_for(self, reference: str) -> LabelLedger:
        """ReadsLabelLedger: this carrier's own record of one order's labels."""
        held = labels(reference)
        return LabelLedger(live=held["live"], voided=held["voided"])

    def void_label(
        self, *, label_key: str, reference: str, idempotency_key: str, account: str = ""
    ) -> LabelVoid:
        """Void the label made under `label_key`, if any; voiding it again changes nothing."""
        void = Operation.VOID_LABEL
        mode = fault_before_effect(Service.CARRIER, void, reference, idempotency_key, account)
        record = idempotent_call(
            service=Service.CARRIER,
            operation=Operation.VOID_LABEL,
            key=idempotency_key,
            reference=reference,
            request={"label_key": label_key, "reference": reference},
            effect=lambda: _void_effect(label_key),
        )
        fault_after_effect(Service.CARRIER, Operation.VOID_LABEL, mode)
        return LabelVoid(tracking_number=record.response["tracking_number"])


def labels(reference: str) -> dict:
    """How many labels the carrier holds for one order, live and voided."""
    return labels_bulk([reference])[str(reference)]


def labels_bulk(references: Iterable[str]) -> dict[str, dict]:
    """`labels` for many orders in one query."""
    refs = [str(ref) for ref in references]
    result = {ref: {"live": 0, "voided": 0} for ref in refs}
    rows = (
        LabelRecord.objects.filter(reference__in=refs)
        .values("reference")
        .annotate(live=Count("id", filter=Q(voided_at=None)), voided=Count("id", filter=~Q(voided_at=None)))
    )
    for row in rows:
        result[row["reference"]].update(live=row["live"], voided=row["voided"])
    return result


def _label(tracking_number: str) -> Label:
    return Label(
        carrier=CARRIER_NAME, tracking_number=tracking_number, label_url=f"sim://labels/{tracking_number}.pdf"
    )


def _create_effect(reference: str, address: dict, weight_grams: int, key: str) -> Outcome:
    # A colliding tracking number fails the unique constraint; the call is then retried whole.
    label = LabelRecord.objects.create(
        tracking_number=f"SP{secrets.randbelow(10**12):012d}",
        idempotency_key=key,
        reference=reference,
        address=address,
        weight_grams=weight_grams,
    )
    return Outcome(response={"tracking_number": label.tracking_number})


def _void_effect(label_key: str) -> Outcome:
    label = LabelRecord.objects.select_for_update().filter(idempotency_key=label_key).first()
    if label is None:
        return Outcome(response={"tracking_number": None})
    if label.voided_at is None:
        label.voided_at = timezone.now()
        label.save(update_fields=["voided_at"])
    return Outcome(response={"tracking_number": label.tracking_number})
