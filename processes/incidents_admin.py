"""The Incidents page: one line per failing step instead of one per failing process.

Circuits are shown, never edited: their rows change only through processes.flow, which the
actions of processes.incident_actions call. The list shows every open or recent incident with
its figures, then every step that has a circuit (so one can be paused before it fails); each
step has a page with its history, its actions and the progress of its latest redrive.
"""

from functools import partial

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse

from processes import clock
from processes.flow.figures import (
    StepFlow,
    circuit_history,
    describe,
    error_rows,
    flows,
    held_processes,
    incidents,
    latest_redrive,
    redrivable_count,
    redrive_progress,
)
from processes.incident_actions import (
    ACTIONS,
    action_refusals,
    find_step,
    incident_action_view,
    key_of,
    with_key,
)
from processes.models.flow import Circuit
from processes.read_only_admin import ReadOnlyAdmin


@admin.register(Circuit)
class IncidentAdmin(ReadOnlyAdmin):
    """Incidents: steps whose service fails for many processes, and what operators do about them."""

    def get_urls(self):
        wrap = self.admin_site.admin_view
        step = "step/<str:label>/<str:step>/"
        return [
            path(step, wrap(partial(step_view, self)), name="processes_circuit_step"),
            path(f"{step}progress/", wrap(partial(progress_view, self)), name="processes_circuit_progress"),
            path(
                f"{step}<str:action_name>/",
                wrap(partial(incident_action_view, self)),
                name="processes_circuit_action",
            ),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        return incident_list_view(self, request)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        circuit = get_object_or_404(Circuit, pk=object_id) if object_id.isdigit() else None
        if circuit is None:
            return HttpResponseRedirect(reverse("admin:processes_circuit_changelist"))
        return HttpResponseRedirect(step_url(circuit.process_type, circuit.step, circuit.key))


def step_url(label: str, step: str, key: str = "") -> str:
    return with_key(reverse("admin:processes_circuit_step", args=[label, step]), key)


def progress_url(label: str, step: str, key: str = "") -> str:
    return with_key(reverse("admin:processes_circuit_progress", args=[label, step]), key)


def incident_list_view(model_admin, request):
    """Stopped, slowed and recent incidents first (what is going on now), then every step with
    flow control and its condition."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    rows = []
    for incident in incidents():
        flow = incident.flow
        rows.append(
            {
                "incident": incident,
                "flow": flow,
                "url": step_url(flow.label, flow.step, flow.key),
                "errors": error_rows(incident.errors[:3]),
                "redrive": redrive_progress(incident.redrive),
                "progress_url": progress_url(flow.label, flow.step, flow.key),
            }
        )
    steps = [
        {
            "row": flow,
            "url": step_url(flow.label, flow.step, flow.key),
            "pause_url": with_key(
                reverse("admin:processes_circuit_action", args=[flow.label, flow.step, "pause"]), flow.key
            ),
        }
        for flow in flows()
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Incidents",
        "is_nav_sidebar_enabled": False,  # its 300 px go to the table's nine columns
        "now": clock.now(),
        "incidents": rows,
        "steps": steps,
        "can_pause": request.user.has_perm(ACTIONS["pause"].perm),
    }
    return TemplateResponse(request, "admin/processes/circuit/incidents.html", context)


def step_view(model_admin, request, label: str, step: str):
    """A step's flow control: its condition and figures, its history, its actions, who waits
    and its latest redrive."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    row = find_step(label, step, key_of(request))
    incident = describe(row.circuit) if row.circuit else None
    redrive = latest_redrive(label, step)
    progress = redrive_progress(redrive)
    redrivable = redrivable_count(label, step)
    refusals = action_refusals(row, redrivable=redrivable, redrive_running=progress["running"])
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"{row.where} ({row.workflow}): {row.condition_display.lower()}",
        "row": row,
        "incident": incident,
        "errors": error_rows(incident.errors) if incident else [],
        "alerts": incident.alerts if incident else 0,
        "redrive": progress,
        "latest_redrive": redrive,
        "progress_url": progress_url(label, step, row.key),
        "redrivable": redrivable,
        "buttons": _buttons(request, row, refusals),
        "history": circuit_history(row.circuit),
        "held_processes": held_processes(label, step, row.key),
        "journal_url": _journal_url(label),
    }
    return TemplateResponse(request, "admin/processes/circuit/step.html", context)


def progress_view(model_admin, request, label: str, step: str):
    """The latest redrive's progress as JSON, for the page's poller."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    row: StepFlow = find_step(label, step, key_of(request))
    return JsonResponse(
        {**redrive_progress(latest_redrive(label, step)), "state": row.state, "held": row.held}
    )


def _buttons(request, row: StepFlow, refusals: dict[str, str]) -> list[dict]:
    return [
        {
            "name": action.name,
            "label": action.label,
            "url": with_key(
                reverse("admin:processes_circuit_action", args=[row.label, row.step, action.name]), row.key
            ),
            "refused": refusals[action.name],
        }
        for action in ACTIONS.values()
        if request.user.has_perm(action.perm)
    ]


def _journal_url(label: str) -> str:
    try:
        url = reverse("admin:processes_processevent_changelist")
    except NoReverseMatch:
        return ""
    return f"{url}?kind__exact=circuit&process_type__exact={label}"
