"""The sweeper's look at the circuits, a few times a second (processes.sweeper)."""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q

from processes import clock, conf
from processes.flow import breaker, operators
from processes.flow.admission import due, pause_over
from processes.models.flow import Circuit, CircuitEventKind, CircuitState, Redrive

logger = logging.getLogger("processes.circuits")


def tick(now: datetime | None = None) -> None:
    """End pauses whose time is up, send the "closed" alert of incidents that stayed closed for
    CIRCUIT_SETTLE, restart redrives whose task died (no heartbeat for REDRIVE_STALE seconds)."""
    now = now or clock.now()
    ended_pause = Q(state=CircuitState.PAUSED, paused_until__lte=now)
    owed = Circuit.objects.filter(ended_pause | Q(state=CircuitState.CLOSED, close_alert_at__lte=now))
    for pk in list(owed.values_list("pk", flat=True)):  # one query a sweep, whatever is due
        with transaction.atomic():
            circuit = Circuit.objects.select_for_update().get(pk=pk)
            if pause_over(circuit, now):
                breaker.close_circuit(circuit, CircuitEventKind.RESUMED, "the pause ended", now, actor="")
            elif circuit.state == CircuitState.CLOSED and due(circuit.close_alert_at, now):
                circuit.close_alert_at = None
                circuit.save(update_fields=["close_alert_at"])
                breaker.raise_alert(circuit, "closed", circuit.reason, now)
    stale = now - timedelta(seconds=conf.get("REDRIVE_STALE"))
    dead = Redrive.objects.filter(finished_at__isnull=True).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, requested_at__lt=stale)
    )
    for redrive_id in list(dead.values_list("pk", flat=True)):
        if Redrive.objects.filter(pk=redrive_id, finished_at__isnull=True).update(heartbeat_at=now):
            logger.warning("redrive %s stopped answering; starting it again", redrive_id)
            operators.enqueue_redrive(redrive_id)
