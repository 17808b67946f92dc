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
from processes.admin import ReadOnlyAdmin
from processes.flow.figures import (
    StepCircuit,
    circuit_history,
    describe,
    error_rows,
    held_processes,
    incidents,
    latest_redrive,
    redrivable_count,
    redrive_progress,
    step_circuits,
    step_window,
    workflow_name,
)
from processes.incident_actions import ACTIONS, action_refusals, find_step, incident_action_view
from processes.models import Circuit


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
        return HttpResponseRedirect(step_url(circuit.process_type, circuit.step))


def step_url(label: str, step: str) -> str:
    return reverse("admin:processes_circuit_step", args=[label, step])


def progress_url(label: str, step: str) -> str:
    return reverse("admin:processes_circuit_progress", args=[label, step])


def incident_list_view(model_admin, request):
    """Open and recent incidents first (what is failing now), then every step with a circuit."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    rows = []
    for incident in incidents():
        circuit = incident.circuit
        rows.append(
            {
                "incident": incident,
                "workflow": workflow_name(circuit.process_type),
                "url": step_url(circuit.process_type, circuit.step),
                "errors": error_rows(incident.errors[:3]),
                "redrive": redrive_progress(incident.redrive),
                "progress_url": progress_url(circuit.process_type, circuit.step),
            }
        )
    steps = [
        {
            "row": row,
            "url": step_url(row.label, row.step),
            "pause_url": reverse("admin:processes_circuit_action", args=[row.label, row.step, "pause"]),
        }
        for row in step_circuits()
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": "Incidents",
        "now": clock.now(),
        "incidents": rows,
        "steps": steps,
        "can_pause": request.user.has_perm(ACTIONS["pause"].perm),
    }
    return TemplateResponse(request, "admin/processes/circuit/incidents.html", context)


def step_view(model_admin, request, label: str, step: str):
    """A step's circuit: its figures, its history, its actions and its latest redrive."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    row = find_step(label, step)
    incident = describe(row.circuit) if row.circuit else None
    redrive = latest_redrive(label, step)
    progress = redrive_progress(redrive)
    redrivable = redrivable_count(label, step)
    refusals = action_refusals(row, redrivable=redrivable, redrive_running=progress["running"])
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"{row.step} ({row.workflow}): {row.state_display.lower()}",
        "row": row,
        "incident": incident,
        "window": step_window(label, step) if incident is None else None,
        "errors": error_rows(incident.errors) if incident else [],
        "redrive": progress,
        "latest_redrive": redrive,
        "progress_url": progress_url(label, step),
        "redrivable": redrivable,
        "buttons": _buttons(request, row, refusals),
        "history": circuit_history(row.circuit),
        "held_processes": held_processes(label, step),
        "journal_url": _journal_url(label),
    }
    return TemplateResponse(request, "admin/processes/circuit/step.html", context)


def progress_view(model_admin, request, label: str, step: str):
    """The latest redrive's progress as JSON, for the page's poller."""
    if not model_admin.has_view_permission(request):
        raise PermissionDenied
    row: StepCircuit = find_step(label, step)
    return JsonResponse(
        {**redrive_progress(latest_redrive(label, step)), "state": row.state, "held": row.held}
    )


def _buttons(request, row: StepCircuit, refusals: dict[str, str]) -> list[dict]:
    return [
        {
            "name": action.name,
            "label": action.label,
            "url": reverse("admin:processes_circuit_action", args=[row.label, row.step, action.name]),
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
