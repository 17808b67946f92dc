"""Operator actions on a step's circuit: pause, resume, redrive, each behind a confirmation page.

Each action has a permission of its own, checked on every request whatever the page showed,
and asks for a reason that the engine writes to the circuit's history and to the journal of the
processes it touches. The work is done by processes.flow.operators; its refusals (an end time in the
past, nothing to resume) come back as form errors on the same page, with nothing changed.
"""

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse

from processes.flow import operators
from processes.flow.figures import StepFlow, flow_for, latest_redrive, redrivable_count
from processes.journal import Actor
from processes.models.flow import CircuitState
from processes.models.journal import ActorType


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Written to the circuit's history and to the journal of the processes it touches.",
    )


class PauseForm(ReasonForm):
    until = forms.DateTimeField(
        required=False,
        label="Until (UTC)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="Leave empty to hold the step until someone resumes it.",
    )


@dataclass(frozen=True)
class IncidentAction:
    name: str
    label: str
    permission: str
    form: type[ReasonForm]
    run: Callable[[StepFlow, Actor, dict], tuple[str, str]]
    explanation: str

    @property
    def perm(self) -> str:
        return f"processes.{self.permission}"


def _pause(row: StepFlow, actor: Actor, data: dict) -> tuple[str, str]:
    reason, until = data["reason"], data["until"]
    circuit = operators.pause(row.label, row.step, row.key, actor=actor, reason=reason, until=until)
    ending = f"until {circuit.paused_until:%Y-%m-%d %H:%M} UTC" if circuit.paused_until else "until resumed"
    return (
        messages.SUCCESS,
        f"The {row.where} step is paused {ending}: its processes wait, spending no attempts.",
    )


def _resume(row: StepFlow, actor: Actor, data: dict) -> tuple[str, str]:
    operators.resume(row.label, row.step, row.key, actor=actor, reason=data["reason"])
    return (
        messages.SUCCESS,
        f"The {row.where} step is resumed: {row.held} waiting processes go at the release rate.",
    )


def _redrive(row: StepFlow, actor: Actor, data: dict) -> tuple[str, str]:
    redrive, started = operators.start_redrive(row.label, row.step, actor=actor, reason=data["reason"])
    if not started:
        return messages.WARNING, f"A redrive is already running: {redrive.done}/{redrive.total}."
    return messages.SUCCESS, f"Redrive of {redrive.total} processes at {row.step} started in the background."


ACTIONS = {
    action.name: action
    for action in [
        IncidentAction(
            "pause",
            "Pause",
            "pause_circuit",
            PauseForm,
            _pause,
            "Holds the step for every process (a maintenance window): due processes wait without "
            "spending attempts until the end time or until someone resumes the step.",
        ),
        IncidentAction(
            "resume",
            "Resume now",
            "resume_circuit",
            ReasonForm,
            _resume,
            "Closes the step's circuit now: the waiting processes go again, a few per second, so "
            "a service that has just come back is not hit by all of them at once.",
        ),
        IncidentAction(
            "redrive",
            "Redrive",
            "redrive_circuit",
            ReasonForm,
            _redrive,
            "Retries, in the background and in batches, every process of this step that used up "
            "its retries and needs attention. Clicking it again while it runs starts nothing new.",
        ),
    ]
}


def action_refusals(row: StepFlow, *, redrivable: int, redrive_running: bool) -> dict[str, str]:
    """Why each action cannot be taken now ('' when it can), to grey its button out."""
    return {
        "pause": "",
        "resume": "" if row.state != CircuitState.CLOSED else "the step is not paused or open",
        "redrive": "" if redrivable or redrive_running else "no process of this step needs attention",
    }


def find_step(label: str, step: str, key: str = "") -> StepFlow:
    found = flow_for(label, step, key)
    if found is None:
        raise Http404(f"No step {step!r} with a circuit breaker in {label!r}.")
    return found


def key_of(request) -> str:
    """The flow key a step's page or action is for (`?key=`), '' for a step kept as one; a key
    no step could have (control characters, over 100 characters) is not found."""
    key = request.GET.get("key", "")
    if len(key) > 100 or not key.isprintable():
        raise Http404("No such flow key.")
    return key


def with_key(url: str, key: str) -> str:
    return f"{url}?{urlencode({'key': key})}" if key else url


def incident_action_view(model_admin, request, label: str, step: str, action_name: str):
    """GET: the confirmation page; POST with confirm=yes: validate, act, go back to the step."""
    action = ACTIONS.get(action_name)
    if action is None:
        raise Http404(f"No incident action {action_name!r}.")
    if not request.user.has_perm(action.perm):
        raise PermissionDenied(f"You may not {action.label.lower()} a step.")
    row = find_step(label, step, key_of(request))
    back = with_key(reverse("admin:processes_circuit_step", args=[label, step]), row.key)
    confirmed = request.method == "POST" and request.POST.get("confirm") == "yes"
    form = action.form(request.POST if confirmed else None)
    if confirmed and form.is_valid():
        actor = Actor(ActorType.OPERATOR, request.user.get_username())
        try:
            level, text = action.run(row, actor, form.cleaned_data)
        except ValueError as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.add_message(request, level, text)
            return HttpResponseRedirect(back)
    context = _context(model_admin, request, action, row, form, back)
    return TemplateResponse(request, "admin/processes/circuit/confirm.html", context)


def _context(model_admin, request, action: IncidentAction, row: StepFlow, form, back: str) -> dict:
    redrive = latest_redrive(row.label, row.step)
    return {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.model._meta,
        "title": f"{action.label}: {row.where} ({row.workflow})",
        "action": action,
        "row": row,
        "form": form,
        "back_url": back,
        "redrivable": redrivable_count(row.label, row.step),
        "redrive": redrive if redrive and redrive.finished_at is None else None,
        "post_url": with_key(
            reverse("admin:processes_circuit_action", args=[row.label, row.step, action.name]), row.key
        ),
    }
