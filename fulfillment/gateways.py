"""The external services the order workflow calls, behind small interfaces.

Each interface has a simulator in fulfillment.simulators, the default; a real client would
implement the same methods and be named in settings (PAYMENT_GATEWAY, SHIPPING_CARRIER). Every
method takes an idempotency key: calling it again with the same key and the same request
returns the first answer and has no second effect.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from processes.exceptions import AmbiguousError, OwnTransientError, PermanentError, RetryableError


class ServiceUnavailable(RetryableError):
    """The service refused the call before doing anything (HTTP 503-like); safe to retry."""


class ServiceTimeout(AmbiguousError):
    """No answer in time: the effect may have happened. Retry with the same key to find out."""


class PaymentDeclined(PermanentError):
    """The card or token was refused by the payment provider."""


class IssuerUnavailable(OwnTransientError):
    """The card's issuer did not answer the payment provider: this card's trouble, not the
    provider's (Stripe's `issuer_not_available`). Retry later with the same key."""


class AddressRejected(PermanentError):
    """The carrier cannot deliver to this address: the order's problem, never the carrier's."""


class FraudDeclined(PermanentError):
    """The fraud screener refused the order: it must not be charged."""


class RefundRefused(PermanentError):
    """The gateway refused a refund: more than is left of the charge, or no such charge."""


class IdempotencyConflict(PermanentError):
    """The key was used before with a different request: a bug on our side, never retried."""


@dataclass(frozen=True)
class Charge:
    charge_id: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Refund:
    """A refund; `refund_id` is None when no charge was ever made under the charge's key."""

    refund_id: str | None
    charge_id: str | None
    amount: Decimal


@dataclass(frozen=True)
class Label:
    carrier: str
    tracking_number: str
    label_url: str


@dataclass(frozen=True)
class LabelVoid:
    """A voided label; `tracking_number` is None when no label was made under the create key."""

    tracking_number: str | None


@dataclass(frozen=True)
class Assessment:
    """The fraud screener approved the order with this risk score (a refusal raises FraudDeclined)."""

    assessment_id: str
    score: int


@dataclass(frozen=True)
class AssessmentCancel:
    """The screener was told the order was cancelled; `assessment_id` None: there was none."""

    assessment_id: str | None


class FraudScreener(Protocol):
    def assess(
        self, *, reference: str, email: str, amount: Decimal, country: str, token: str, idempotency_key: str
    ) -> Assessment: ...

    def cancel(self, *, assessment_key: str, reference: str, idempotency_key: str) -> AssessmentCancel:
        """Report that the order approved under `assessment_key`, if any, was cancelled."""


class PaymentGateway(Protocol):
    def charge(
        self, *, amount: Decimal, currency: str, token: str, reference: str, idempotency_key: str
    ) -> Charge: ...

    def refund(self, *, charge_key: str, reference: str, idempotency_key: str) -> Refund:
        """Refund in full whatever charge was made under `charge_key`, if any."""

    def refund_part(self, *, charge_id: str, amount: Decimal, reference: str, idempotency_key: str) -> Refund:
        """Refund `amount` of the charge `charge_id` (a return); raises RefundRefused when
        more than is left of the charge is asked for."""


class ShippingCarrier(Protocol):
    """`account` is the shop's account with the carrier the call is made for ('' for the one
    account); a real client picks its credentials by it."""

    def create_label(
        self, *, reference: str, address: dict, weight_grams: int, idempotency_key: str, account: str = ""
    ) -> Label: ...

    def void_label(
        self, *, label_key: str, reference: str, idempotency_key: str, account: str = ""
    ) -> LabelVoid:
        """Void whatever label was made under `label_key`, if any."""


@dataclass(frozen=True)
class PaymentLedger:
    """What a payment gateway holds for one order: successful charges and refunds."""

    charged: Decimal
    refunded: Decimal
    charges: int


@dataclass(frozen=True)
class LabelLedger:
    """How many labels a carrier holds for one order."""

    live: int
    voided: int


class ReadsPaymentLedger(Protocol):
    """Optional: a gateway whose own records can be read back per order (the simulator's can;
    a real provider's client may, through its reporting API). The order page cross-checks our
    rows against it."""

    def ledger_for(self, reference: str) -> PaymentLedger: ...


class ReadsLabelLedger(Protocol):
    """Optional, as ReadsPaymentLedger, for a carrier's labels."""

    def labels_for(self, reference: str) -> LabelLedger: ...


def payment_ledger(reference: str) -> PaymentLedger | None:
    """The payment gateway's own record of one order, or None if it cannot be read back."""
    read = getattr(payment_gateway(), "ledger_for", None)
    return read(reference) if read else None


def label_ledger(reference: str) -> LabelLedger | None:
    """The carrier's own record of one order's labels, or None if it cannot be read back."""
    read = getattr(shipping_carrier(), "labels_for", None)
    return read(reference) if read else None


def payment_gateway() -> PaymentGateway:
    return import_string(settings.PAYMENT_GATEWAY)()


def shipping_carrier() -> ShippingCarrier:
    return import_string(settings.SHIPPING_CARRIER)()


def fraud_screener() -> FraudScreener:
    path = getattr(settings, "FRAUD_SCREENER", "fulfillment.simulators.fraud.FraudScreenerSimulator")
    return import_string(path)()
