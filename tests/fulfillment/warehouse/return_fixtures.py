"""Returns for the warehouse pages' tests: one waiting for its parcel, one being inspected."""

import pytest

from fulfillment.models import Return
from processes import clock
from processes.models.process import RunStatus
from tests.return_factories import completed_order, drive_return, request_return

UNITS = (("MUG-001", 2), ("TEE-042", 1))


def return_at(step: str, *, parcel: bool) -> Return:
    with clock.frozen():
        ret = request_return(completed_order(), *UNITS)
        ret = drive_return(ret, parcel=parcel, judge=None)
    assert (ret.step, ret.run_status) == (step, RunStatus.WAITING)
    return ret


@pytest.fixture
def awaiting_parcel(catalogue) -> Return:
    """A return of two mugs and a tee, labelled and waiting for its parcel."""
    return return_at("await_parcel", parcel=False)


@pytest.fixture
def inspecting(catalogue) -> Return:
    """The same return, its parcel arrived and its inspection task open."""
    return return_at("inspect", parcel=True)


def short(ret: Return) -> str:
    return str(ret.pk)[:8].upper()


def verdicts(ret: Return, *given: tuple[str, str]) -> dict[str, str]:
    """The inspection form's data: (verdict, reason) per line in order, e.g. ("reject", "Worn")."""
    data = {}
    for line, (verdict, reason) in zip(ret.lines.order_by("pk"), given, strict=True):
        data[f"verdict_{line.pk}"] = verdict
        data[f"reason_{line.pk}"] = reason
    return data
