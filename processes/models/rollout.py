"""The rollout of a workflow's newest version to new processes (processes.versions)."""

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q

from processes import clock


class RolloutSetting(models.Model):
    """The share of new processes of one workflow that start on its newest version.

    Operators change it at run time in the admin; no row means 0 %: a newly deployed version
    takes no new process until someone raises its share. The others start on the version
    before it. Which processes get the newest is decided by a stable hash bucket of a key
    (processes.versions), so raising the share only moves keys from old to new.
    """

    workflow = models.CharField(max_length=100, unique=True, help_text="The process model's label.")
    percent = models.PositiveSmallIntegerField(
        default=0,
        validators=[MaxValueValidator(100)],
        help_text="Share of new processes (0–100) that start on the newest version.",
    )
    updated_at = models.DateTimeField(default=clock.now)
    updated_by = models.CharField(max_length=150, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(percent__lte=100), name="rollout_percent_at_most_100")
        ]

    def __str__(self):
        return f"{self.workflow}: {self.percent} % on the newest version"
