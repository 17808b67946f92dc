"""A fraud screener that behaves like a remote one: deterministic scores, idempotent by key.

The score is a hash of the customer's email, so the same customer always scores the same;
the payment token `tok_fraud` or an email at `fraud.example` scores 99 and is refused. The
assessment id is derived from the idempotency key, so a retry returns the first answer.
"""

import hashlib
from decimal import Decimal

from fulfillment.gateways import Assessment, AssessmentCancel, FraudDeclined

BLOCK_AT = 90


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def risk_score(*, email: str, token: str) -> int:
    if token == "tok_fraud" or email.lower().endswith("@fraud.example"):
        return 99
    return int(_digest(email.lower())[:4], 16) % 60  # ordinary customers: 0..59


class FraudScreenerSimulator:
    def assess(
        self, *, reference: str, email: str, amount: Decimal, country: str, token: str, idempotency_key: str
    ) -> Assessment:
        score = risk_score(email=email, token=token)
        if score >= BLOCK_AT:
            raise FraudDeclined(f"risk score {score} of {reference} is over {BLOCK_AT}")
        return Assessment(assessment_id=f"fa_{_digest(idempotency_key)[:20]}", score=score)

    def cancel(self, *, assessment_key: str, reference: str, idempotency_key: str) -> AssessmentCancel:
        return AssessmentCancel(assessment_id=f"fa_{_digest(assessment_key)[:20]}")
