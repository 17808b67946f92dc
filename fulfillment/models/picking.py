"""The pick task a warehouse worker claims and confirms (changed only through
fulfillment.picking), who may pick in which warehouse, and what a worker must be told on their
next visit (a claim taken back).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from fulfillment.models.catalogue import Warehouse
from processes import clock


class PickProblem(models.TextChoices):
    """What a worker can report when a pick cannot be done."""

    MISSING = "missing", "Item missing"
    DAMAGED = "damaged", "Item damaged"
    WRONG_LOCATION = "wrong_location", "Not at its bin location"


class PickTaskQuerySet(models.QuerySet):
    def without_open_problem(self):
        """Tasks a picker may take: no problem reported, or one an operator settled."""
        return self.filter(Q(problem="") | Q(problem_resolved_at__isnull=False))


class PickTask(models.Model):
    """The human step: a warehouse worker claims the task, picks the order's lines, confirms.

    Open tasks can be claimed by one worker at a time (status CLAIMED, `assignee`); only the
    holder confirms or releases. A problem a worker reported stays open until an operator
    resolves it (`problem_resolved_at`): until then nobody, person or simulator, may claim or
    confirm the task, so a report is never overridden by the next picker to come along.
    Changed only by the services in fulfillment.picking.tasks, under the order's row lock.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLAIMED = "claimed", "Claimed"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    OPEN_STATUSES = (Status.OPEN, Status.CLAIMED)

    order = models.OneToOneField("fulfillment.Order", on_delete=models.PROTECT, related_name="pick_task")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="pick_tasks")
    status = models.CharField(max_length=16, choices=Status, default=Status.OPEN)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=clock.now)
    due_at = models.DateTimeField()
    claimed_at = models.DateTimeField(null=True, blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    # When each human-scale timer fired (fulfillment.picking.timers): set once, never again.
    warned_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    # The last problem a worker reported (the order's journal keeps every one).
    problem = models.CharField(max_length=16, choices=PickProblem, blank=True)
    problem_note = models.TextField(blank=True)
    problem_reported_at = models.DateTimeField(null=True, blank=True)
    problem_reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # When an operator settled that problem (the journal says who and how); empty while it is open.
    problem_resolved_at = models.DateTimeField(null=True, blank=True)

    objects = PickTaskQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(
                fields=["warehouse", "due_at"],
                condition=Q(status__in=["open", "claimed"]),
                name="picktask_open_by_due",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="claimed") | Q(assignee__isnull=False, claimed_at__isnull=False),
                name="picktask_claim_has_holder",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["claimed", "done"])
                | Q(problem="")
                | Q(problem_resolved_at__isnull=False),
                name="picktask_open_problem_not_picked",
            ),
        ]

    def __str__(self):
        return f"Pick {self.order_id} ({self.status})"

    def is_held_by(self, user) -> bool:
        return self.status == self.Status.CLAIMED and self.assignee_id == user.pk

    @property
    def has_open_problem(self) -> bool:
        """A worker reported a problem and no operator has settled it yet."""
        return bool(self.problem) and self.problem_resolved_at is None


class WarehouseAssignment(models.Model):
    """A warehouse worker may see and pick the tasks of the warehouses they are assigned to."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="warehouse_assignments"
    )
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="assignments")
    created_at = models.DateTimeField(default=clock.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "warehouse"], name="warehouse_assignment_once")
        ]

    def __str__(self):
        return f"{self.user} @ {self.warehouse.code}"


class PickNotice(models.Model):
    """Something a worker must be told on their next visit (a claim that was taken back)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pick_notices")
    pick_task = models.ForeignKey(PickTask, on_delete=models.CASCADE, related_name="notices")
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(default=clock.now)
    seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["user", "created_at"], condition=Q(seen_at__isnull=True), name="picknotice_unseen"
            )
        ]

    def __str__(self):
        return f"To {self.user}: {self.text}"
