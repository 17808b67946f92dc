"""A simulated payment gateway: charges, full and partial refunds, Stripe-style idempotency, faults.

Tokens choose the card's behaviour: `tok_ok` pays, `tok_declined` is refused, `tok_flaky` is
refused half the time (whatever the settings) because its issuer does not answer (the card's
trouble, `IssuerUnavailable`, not the gateway's) and any other token is unknown.
"""

import secrets
from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Count, Sum

from fulfillment.gateways import (
    Charge,
    IssuerUnavailable,
    PaymentDeclined,
    PaymentLedger,
    Refund,
    RefundRefused,
)
from fulfillment.simulators.calls import Reason, refusal_record
from fulfillment.simulators.faults import chance, fault_after_effect, fault_before_effect
from fulfillment.simulators.idempotency import Outcome, idempotent_call
from fulfillment.simulators.models import ChargeRecord, IdempotencyRecord, Operation, RefundRecord, Service

TOKEN_OK = "tok_ok"
TOKEN_DECLINED = "tok_declined"
TOKEN_FLAKY = "tok_flaky"
DECLINED = "declined"
REFUSED = "refused"


class PaymentGatewaySimulator:
    """The default PaymentGateway: every call is one remote request with its own committed effect."""

    def charge(
        self, *, amount: Decimal, currency: str, token: str, reference: str, idempotency_key: str
    ) -> Charge:
        mode = fault_before_effect(Service.PAYMENT, Operation.CHARGE, reference, idempotency_key)
        if token == TOKEN_FLAKY and chance(0.5):
            _refused_by_issuer(reference, idempotency_key)
            raise IssuerUnavailable("payment.charge: the flaky token's issuer did not answer")
        amount = Decimal(amount)
        request = {
            "amount": _normalized(amount),
            "currency": currency,
            "token": token,
            "reference": reference,
        }
        record = idempotent_call(
            service=Service.PAYMENT,
            operation=Operation.CHARGE,
            key=idempotency_key,
            reference=reference,
            request=request,
            effect=lambda: _charge_effect(amount, currency, token, reference, idempotency_key),
        )
        fault_after_effect(Service.PAYMENT, Operation.CHARGE, mode)
        return _charge_answer(record)

    def ledger_for(self, reference: str) -> PaymentLedger:
        """ReadsPaymentLedger: this gateway's own record of one order."""
        held = ledger(reference)
        return PaymentLedger(charged=held["charged"], refunded=held["refunded"], charges=held["charges"])

    def refund(self, *, charge_key: str, reference: str, idempotency_key: str) -> Refund:
        """Refund in full the successful charge made under `charge_key`; no charge refunds nothing."""
        mode = fault_before_effect(Service.PAYMENT, Operation.REFUND, reference, idempotency_key)
        record = idempotent_call(
            service=Service.PAYMENT,
            operation=Operation.REFUND,
            key=idempotency_key,
            reference=reference,
            request={"charge_key": charge_key, "reference": reference},
            effect=lambda: _refund_effect(charge_key, reference, idempotency_key),
        )
        fault_after_effect(Service.PAYMENT, Operation.REFUND, mode)
        return _refund_answer(record)

    def refund_part(self, *, charge_id: str, amount: Decimal, reference: str, idempotency_key: str) -> Refund:
        """Refund `amount` of a charge, once per key; never more than is left of the charge."""
        mode = fault_before_effect(Service.PAYMENT, Operation.REFUND, reference, idempotency_key)
        amount = Decimal(amount)
        record = idempotent_call(
            service=Service.PAYMENT,
            operation=Operation.REFUND,
            key=idempotency_key,
            reference=reference,
            request={"charge_id": charge_id, "amount": _normalized(amount), "reference": reference},
            effect=lambda: _refund_part_effect(charge_id, amount, reference, idempotency_key),
        )
        fault_after_effect(Service.PAYMENT, Operation.REFUND, mode)
        return _refund_answer(record)


def ledger(reference: str) -> dict:
    """What the gateway holds for one order: totals and counts of successful charges and refunds."""
    return ledger_bulk([reference])[str(reference)]


def ledger_bulk(references: Iterable[str]) -> dict[str, dict]:
    """`ledger` for many orders in two queries; refunds count under their charge's reference."""
    refs = [str(ref) for ref in references]
    result = {
        ref: {"charged": Decimal(0), "refunded": Decimal(0), "charges": 0, "refunds": 0} for ref in refs
    }
    charges = (
        ChargeRecord.objects.filter(reference__in=refs, status=ChargeRecord.Status.SUCCEEDED)
        .values("reference")
        .annotate(total=Sum("amount"), count=Count("id"))
    )
    for row in charges:
        result[row["reference"]].update(charged=row["total"], charges=row["count"])
    refunds = (
        RefundRecord.objects.filter(charge__reference__in=refs)
        .values("charge__reference")
        .annotate(total=Sum("amount"), count=Count("id"))
    )
    for row in refunds:
        result[row["charge__reference"]].update(refunded=row["total"], refunds=row["count"])
    return result


def _refused_by_issuer(reference: str, key: str) -> None:
    charge, issuer = Operation.CHARGE, Reason.ISSUER
    refusal_record(service=Service.PAYMENT, operation=charge, reference=reference, key=key, reason=issuer)


def _normalized(amount: Decimal) -> str:
    """The same sum written differently (10, 10.00) is the same request."""
    return format(amount.normalize(), "f")


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _decline_reason(token: str) -> str:
    if token in (TOKEN_OK, TOKEN_FLAKY):
        return ""
    return "card declined" if token == TOKEN_DECLINED else "unknown token"


def _charge_effect(amount: Decimal, currency: str, token: str, reference: str, key: str) -> Outcome:
    reason = _decline_reason(token)
    charge = ChargeRecord.objects.create(
        charge_id=_new_id("ch"),
        idempotency_key=key,
        reference=reference,
        amount=amount,
        currency=currency,
        token=token,
        status=ChargeRecord.Status.DECLINED if reason else ChargeRecord.Status.SUCCEEDED,
        decline_reason=reason,
    )
    if reason:
        return Outcome(response={"charge_id": charge.charge_id}, error=DECLINED, error_message=reason)
    return Outcome(response={"charge_id": charge.charge_id, "amount": str(amount), "currency": currency})


def _charge_answer(record: IdempotencyRecord) -> Charge:
    if record.error == DECLINED:
        raise PaymentDeclined(record.error_message)
    answer = record.response
    return Charge(
        charge_id=answer["charge_id"], amount=Decimal(answer["amount"]), currency=answer["currency"]
    )


def _refund_effect(charge_key: str, reference: str, key: str) -> Outcome:
    """Refund the charge once: a second key for the same charge gets the existing refund back."""
    charge = (
        ChargeRecord.objects.select_for_update()
        .filter(idempotency_key=charge_key, status=ChargeRecord.Status.SUCCEEDED)
        .first()
    )
    if charge is None:
        return Outcome(response={"refund_id": None, "charge_id": None, "amount": "0"})
    refund = RefundRecord.objects.filter(charge=charge, full=True).first() or RefundRecord.objects.create(
        refund_id=_new_id("re"),
        charge=charge,
        idempotency_key=key,
        reference=reference,
        amount=charge.amount - _refunded(charge),
    )
    return Outcome(
        response={"refund_id": refund.refund_id, "charge_id": charge.charge_id, "amount": str(refund.amount)}
    )


def _refund_part_effect(charge_id: str, amount: Decimal, reference: str, key: str) -> Outcome:
    """Refund a part of the charge, under its row lock so that racing refunds cannot together
    pass its amount; a refusal is stored and replays as the same refusal."""
    charge = (
        ChargeRecord.objects.select_for_update()
        .filter(charge_id=charge_id, status=ChargeRecord.Status.SUCCEEDED)
        .first()
    )
    if charge is None:
        return Outcome(response={}, error=REFUSED, error_message=f"no successful charge {charge_id}")
    left = charge.amount - _refunded(charge)
    if amount <= 0 or amount > left:
        message = f"cannot refund {amount} of charge {charge_id}: {left} left of {charge.amount}"
        return Outcome(response={}, error=REFUSED, error_message=message)
    refund = RefundRecord.objects.create(
        refund_id=_new_id("re"),
        charge=charge,
        idempotency_key=key,
        reference=reference,
        amount=amount,
        full=False,
    )
    return Outcome(
        response={"refund_id": refund.refund_id, "charge_id": charge.charge_id, "amount": str(refund.amount)}
    )


def _refunded(charge: ChargeRecord) -> Decimal:
    return charge.refunds.aggregate(total=Sum("amount"))["total"] or Decimal(0)


def _refund_answer(record: IdempotencyRecord) -> Refund:
    if record.error == REFUSED:
        raise RefundRefused(record.error_message)
    answer = record.response
    return Refund(
        refund_id=answer["refund_id"], charge_id=answer["charge_id"], amount=Decimal(answer["amount"])
    )
