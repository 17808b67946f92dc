"""Who runs the engine: the sweeper loop's lease and the supervised worker clusters' reports."""

from datetime import timedelta

from django.db import models


class SweeperLease(models.Model):
    """Who runs the sweeper loop right now: one loop at a time, across all machines."""

    name = models.CharField(max_length=32, primary_key=True)
    owner = models.CharField(max_length=128, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return f"{self.name}: {self.owner or 'free'}"


class WorkerClusterState(models.TextChoices):
    STARTING = "starting", "Starting"
    RUNNING = "running", "Running"
    RESTARTING = "restarting", "Restarting"  # being replaced: wedged, or it exited
    STOPPED = "stopped", "Stopped"


class WorkerCluster(models.Model):
    """One supervised django-q2 cluster, as its supervisor last reported it (every few seconds).

    Written by processes.worker_supervisor, read by /readyz, /metrics and the pages: which
    clusters run where, whether each takes work, and how often one had to be replaced.
    """

    name = models.CharField(max_length=160, unique=True)  # host:supervisor pid
    host = models.CharField(max_length=128)
    queue = models.CharField(max_length=128)  # Q_CLUSTER's name: the broker queue it serves
    state = models.CharField(max_length=16, choices=WorkerClusterState.choices)
    started_at = models.DateTimeField()  # the supervisor's start
    cluster_started_at = models.DateTimeField(null=True, blank=True)  # the current cluster's
    last_seen_at = models.DateTimeField()
    # The latest task taken from the broker, started by a worker, recorded as finished.
    last_pulled_at = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    workers_busy = models.PositiveIntegerField(default=0)
    workers_idle = models.PositiveIntegerField(default=0)
    restarts = models.PositiveIntegerField(default=0)  # replaced: wedged, or it exited
    wedges = models.PositiveIntegerField(default=0)  # of which wedged
    sweeper_wedges = models.PositiveIntegerField(default=0)  # its sweeper process killed as wedged
    last_restart_at = models.DateTimeField(null=True, blank=True)
    last_restart_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["host", "name"]

    def __str__(self):
        return f"{self.name} ({self.state})"

    def condition(self, now, silent_after: float) -> str:
        """Its state, or "silent" when its supervisor stopped reporting without saying it stopped
        (killed, or its machine gone)."""
        quiet = (now - self.last_seen_at).total_seconds()
        if self.state != WorkerClusterState.STOPPED and quiet > silent_after:
            return "silent"
        return self.state

    @classmethod
    def recent(cls, now, within: float = 600.0):
        """The clusters that reported in the last `within` seconds (older rows are history)."""
        return cls.objects.filter(last_seen_at__gte=now - timedelta(seconds=within))
