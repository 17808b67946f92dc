"""Record what the fraud screener said; the calls themselves are made by the workflow's step."""

from fulfillment.gateways import Assessment, AssessmentCancel
from fulfillment.models import FraudCheck, Order
from processes import clock


def fraud_record_assessment(*, order: Order, assessment: Assessment) -> FraudCheck:
    check, _ = FraudCheck.objects.get_or_create(
        order=order, defaults={"assessment_id": assessment.assessment_id, "score": assessment.score}
    )
    return check


def fraud_record_cancel(*, order: Order, cancel: AssessmentCancel) -> None:
    """Note that the screener was told; nothing to note when no assessment was ever made."""
    FraudCheck.objects.filter(order=order, cancelled_at__isnull=True).update(cancelled_at=clock.now())
