"""The outage switch: a simulated service that refuses every call for as long as it is down.

Two ways to take a service down: SIM_OUTAGE in the environment (down from start-up, for as long
as the process runs) and an Outage row switched on at run time (the admin, the soak, tests), seen
by every process since it lives in the simulators' database. A refused call fails before any
effect with ServiceUnavailable, and the service records it (fulfillment.simulators.calls).
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q

from fulfillment.gateways import ServiceUnavailable
from fulfillment.simulators.calls import Reason, calls_received, calls_refused, refusal_record
from fulfillment.simulators.conf import simulator_setting
from fulfillment.simulators.models import SIMULATORS_DB, Outage, Service
from processes import clock

BY_MAX_LENGTH = Outage._meta.get_field("by").max_length
REASON_MAX_LENGTH = Outage._meta.get_field("reason").max_length


def outage_set(
    *, service: str, on: bool, by: str = "", reason: str = "", until: datetime | None = None
) -> Outage:
    """Take a service down (`on`), optionally until a time, or bring it back.

    A misspelt service, a name in `by` longer than a username, a reason too long, or an end time
    that is past or given with on=False raises ValueError and changes nothing. `since` moves only
    when the service actually goes down or comes back. Taking it down records why: the admin
    asks a person for `reason`; the soak, chaos and tests may leave it out ("switched by <by>").
    Bringing it back keeps the outage's reason for the board.
    """
    service = Service(service)
    now = clock.now()
    _validate(on, by, reason, until, now)
    if on and not reason:
        reason = f"switched by {by or 'a script'}"
    with transaction.atomic(using=SIMULATORS_DB):
        outage, created = Outage.objects.select_for_update().get_or_create(
            service=service,
            defaults={
                "on": on,
                "since": now,
                "until": until,
                "by": by,
                "reason": reason,
                "last_down_since": now if on else None,
            },
        )
        if created:
            return outage
        if outage.is_down(now) != on:
            outage.since = now
            _span_mark(outage, on, now)
        outage.on, outage.until, outage.by = on, until, by
        outage.reason = reason or outage.reason
        outage.save(update_fields=["on", "since", "until", "by", "reason", "last_down_since", "last_up_at"])
    return outage


def _span_mark(outage: Outage, on: bool, now: datetime) -> None:
    """Going down opens a new span; coming back closes it (an outage that ran to `until` closes itself)."""
    if on:
        outage.last_down_since, outage.last_up_at = now, None
    elif outage.last_up_at is None:
        outage.last_up_at = now


def _validate(on: bool, by: str, reason: str, until: datetime | None, now: datetime) -> None:
    if not isinstance(on, bool):
        raise ValueError(f"on must be True or False, not {on!r}")
    if len(by) > BY_MAX_LENGTH:
        raise ValueError(f"by must be at most {BY_MAX_LENGTH} characters, not {len(by)}")
    if not isinstance(reason, str) or len(reason) > REASON_MAX_LENGTH:
        raise ValueError(f"the reason must be text of at most {REASON_MAX_LENGTH} characters")
    if until is not None and not on:
        raise ValueError("an end time goes only with on=True")
    if until is not None and until <= now:
        raise ValueError(f"the outage's end {until:%Y-%m-%d %H:%M:%S} is not in the future")


def forced_down(service: str) -> bool:
    """Down through SIM_OUTAGE: no switch in the admin brings it back."""
    return service in simulator_setting("OUTAGE")


def service_down(service: str) -> bool:
    """Whether calls to the service are refused now: the setting, then one lookup by unique key."""
    if forced_down(service):
        return True
    live = Q(until__isnull=True) | Q(until__gt=clock.now())
    return Outage.objects.filter(live, service=service, on=True).exists()


def outage_refuse(service: str, operation: str, reference: str = "", key: str = "") -> None:
    """Refuse the call, before any effect and on the service's records, if the service is down."""
    if not service_down(service):
        return
    refusal_record(service=service, operation=operation, reference=reference, key=key, reason=Reason.OUTAGE)
    raise ServiceUnavailable(f"{service}.{operation}: unavailable (outage)")


@dataclass(frozen=True)
class OutageStatus:
    """One service as the admin's outage board shows it.

    While the service is down, `refused_in_outage` counts the calls refused since it went down;
    once it is back, `last_outage` is the latest outage's span and `refused_in_outage` what it
    refused then, so the figure outlives the outage.
    """

    service: str
    label: str
    down: bool
    forced: bool
    outage: Outage | None
    refused_in_outage: int
    received: int
    last_outage: tuple[datetime, datetime] | None = None


def outage_board() -> list[OutageStatus]:
    """Every simulated service, up or down, with the calls it refused in its current or last outage."""
    now = clock.now()
    outages = {outage.service: outage for outage in Outage.objects.all()}
    board = []
    for service, label in Service.choices:
        outage = outages.get(service)
        forced = forced_down(service)
        down = forced or (outage is not None and outage.is_down(now))
        last = outage.last_outage(now) if outage is not None and not down else None
        if down:
            since = outage.since if outage is not None and outage.is_down(now) else None
            refused = _refused(service, since=since)
        else:
            refused = _refused(service, since=last[0], until=last[1]) if last else 0
        received = calls_received(service)
        board.append(OutageStatus(service, label, down, forced, outage, refused, received, last))
    return board


def _refused(service: str, *, since: datetime | None, until: datetime | None = None) -> int:
    return sum(calls_refused(service, reason=Reason.OUTAGE, since=since, until=until).values())
