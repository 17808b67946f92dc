"""Operator actions on processes (orders, returns): a confirmation page that asks for a reason,
then one service call per process.

The same page serves one process (a button on its page) and many (an action of the list). Each
action has its own permission, checked on every request, whatever the buttons showed: a crafted
POST without it is refused. Refusals by the engine (wrong state, a guard, a duplicate id) come
back as messages naming the process, never as an error page. What differs between orders and
returns (their actions, their services, their pages) is an `ActionSet`.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import messages
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import IntegrityError
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString
from django_fsm import TransitionNotAllowed

from fulfillment.errors import InvalidOrder, InvalidReturn, PickRefused, ReturnNotAllowed
from processes.exceptions import (
    HeldByCircuit,
    IllegalTransition,
    ManualResultRefused,
    ProcessStateError,
    StepError,
)
from processes.models.process import RunStatus

logger = logging.getLogger("fulfillment.admin")

REFUSALS = (
    ProcessStateError,
    TransitionNotAllowed,
    IllegalTransition,
    IntegrityError,
    StepError,
    ManualResultRefused,
    InvalidOrder,
    InvalidReturn,
    ReturnNotAllowed,
    PickRefused,
    ObjectDoesNotExist,  # the process went away
)
MAX_PROCESSES = 500


class ReasonForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        help_text="Written to the journal with your name.",
    )

    @classmethod
    def for_processes(cls, data, processes: list) -> tuple[forms.Form | None, str]:
        """The form for these processes, or None and why the action cannot be asked for them
        together (a form whose fields depend on the processes says so)."""
        return cls(data), ""

    def service_arguments(self) -> dict:
        return {"reason": self.cleaned_data["reason"].strip()}


class RetryForm(ReasonForm):
    reset_attempts = forms.BooleanField(
        required=False, help_text="Start the step's retry count again from zero (a full new budget)."
    )

    def service_arguments(self) -> dict:
        return {**super().service_arguments(), "reset_attempts": self.cleaned_data["reset_attempts"]}


@dataclass(frozen=True)
class OperatorAction:
    """One operator action: its permission, its service, its form, and the words it answers with:
    `may_not` begins the refusal of a user without the permission, `done` says what changed for
    one process (the process as the service left it, and what the form passed). `model` holds
    the permission in its Meta."""

    name: str
    label: str
    permission: str
    service: Callable
    form: type[ReasonForm]
    explanation: str
    may_not: str
    done: Callable[[object, dict], str]
    model: type

    @property
    def perm(self) -> str:
        return f"{self.model._meta.app_label}.{self.permission}"

    @property
    def refusal(self) -> str:
        """Why a user without the permission is refused, as a sentence naming the permission."""
        name = dict(self.model._meta.permissions)[self.permission]
        return f"{self.may_not}: your account does not have the permission “{name}”. Ask an administrator."


# What an action changed, in the words of its success message (OperatorAction.done).


def retried(process, arguments: dict) -> str:
    """What a retry changed: the step runs now."""
    reset = ", its attempts counted from 0 again" if arguments.get("reset_attempts") else ""
    return f"{process.step} runs now{reset}"


def undoing(process, arguments: dict) -> str:
    """What a compensation or cancel changed: the next undo, or the end it reached."""
    if not process.step:
        return f"now {process.get_state_display().lower()}"
    return f"being undone, next the undo of {process.step}"


def resolved(process, arguments: dict) -> str:
    """What resolving changed: the step runs again, or its wait has a new deadline."""
    if process.run_status == RunStatus.WAITING:
        return f"attention cleared, {process.step} waits again until {process.deadline_at:%H:%M:%S} UTC"
    return f"attention cleared, {process.step} runs again now" if process.step else "attention cleared"


@dataclass(frozen=True)
class ActionSet:
    """The operator actions of one kind of process: the model, its actions, why each would be
    refused now (`available`, advisory: for the buttons and the confirmation page), the keyword
    its services take the process's id by, and the admin URL of its confirmation page."""

    model: type
    actions: dict[str, OperatorAction]
    available: Callable[[object], dict[str, str]]
    id_argument: str
    url_name: str

    @property
    def noun(self) -> str:
        return str(self.model._meta.verbose_name)

    @property
    def plural(self) -> str:
        return str(self.model._meta.verbose_name_plural)

    def count(self, n: int) -> str:
        return f"{n} {self.noun if n == 1 else self.plural}"

    def change_url(self, pk) -> str:
        meta = self.model._meta
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[pk])

    def changelist_url(self) -> str:
        meta = self.model._meta
        return reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")

    def buttons(self, request, process) -> list[dict]:
        """The actions the user may take, for a process's page, with why each is off now."""
        refusals = self.available(process)
        return [
            {
                "label": action.label,
                "url": reverse(self.url_name, args=[action.name]) + f"?ids={process.pk}",
                "refused": refusals[action.name],
            }
            for action in self.actions.values()
            if request.user.has_perm(action.perm)
        ]


def action_view(actions: ActionSet, model_admin, request, action_name: str):
    """GET: the confirmation page for ?ids=…; POST: run the action on the posted ids."""
    action = actions.actions.get(action_name)
    if action is None:
        raise PermissionDenied(f"No operator action {action_name!r}.")
    if not request.user.has_perm(action.perm):
        raise PermissionDenied(action.refusal)
    source = request.POST if request.method == "POST" else request.GET
    ids = _ids(source.getlist("ids"))
    if not ids:
        messages.error(request, f"No {actions.plural} were selected.")
        return HttpResponseRedirect(actions.changelist_url())
    found = list(actions.model.objects.filter(pk__in=ids))
    if not found:
        messages.error(request, f"None of the selected {actions.plural} exists.")
        return HttpResponseRedirect(actions.changelist_url())
    return confirmation_response(actions, model_admin, request, action, found)


def confirmation_response(actions: ActionSet, model_admin, request, action, processes: list, back=None):
    """Render the confirmation page, or, on a valid POST of it, run the action."""
    if len(processes) > MAX_PROCESSES:
        messages.error(request, f"Select at most {MAX_PROCESSES} {actions.plural} for one action.")
        return HttpResponseRedirect(actions.changelist_url())
    data = request.POST if request.POST.get("confirm") == "yes" else None
    form, problem = action.form.for_processes(data, processes)
    if form is not None and data is not None and form.is_valid():
        _run(actions, request, action, processes, form)
        return HttpResponseRedirect(_back_url(actions, request, processes))
    rows = [
        {"process": p, "url": actions.change_url(p.pk), "refused": actions.available(p)[action.name]}
        for p in processes
    ]
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": actions.model._meta,
        "title": f"{action.label}: {actions.count(len(processes))}",
        "action": action,
        "form": form,
        "problem": problem,
        "rows": rows,
        "noun": actions.noun,
        "changelist_url": actions.changelist_url(),
        "back_url": back or _back_url(actions, request, processes),
        "post_url": reverse(actions.url_name, args=[action.name]),
    }
    return TemplateResponse(request, "admin/fulfillment/order/operator_action.html", context)


def _run(actions: ActionSet, request, action: OperatorAction, processes: list, form: ReasonForm) -> None:
    arguments = form.service_arguments()
    done, refused = [], []
    for process in processes:
        try:
            after = action.service(**{actions.id_argument: process.pk}, user=request.user, **arguments)
        except REFUSALS as error:
            refused.append((process, _refusal_text(error)))
        except Exception as error:  # never an error page halfway through a bulk action
            logger.exception("operator action %s on %s %s failed", action.name, actions.noun, process.pk)
            refused.append((process, f"failed unexpectedly ({type(error).__name__}); see the logs"))
        else:
            done.append((process, action.done(after, arguments)))
    if done:
        changed = "; ".join(f"{str(process.pk)[:8]}: {words}" for process, words in done[:10])
        more = f"; and {len(done) - 10} more" if len(done) > 10 else ""
        messages.success(request, f"{action.label}: done for {actions.count(len(done))} ({changed}{more}).")
    for process, why in refused[:20]:
        text = f"{action.label} refused for {actions.noun} {process.pk}: "
        messages.error(request, format_html("{}{}", text, why) if isinstance(why, SafeString) else text + why)
    if len(refused) > 20:
        messages.error(request, f"… and {len(refused) - 20} more {actions.plural} refused.")


def _refusal_text(error: Exception) -> str:
    if isinstance(error, HeldByCircuit) and error.url:
        return format_html('{} <a href="{}">See the incident</a>.', str(error), error.url)
    if isinstance(error, TransitionNotAllowed):
        return f"its state does not allow this ({error})"
    if isinstance(error, IntegrityError):
        return "what you entered is already recorded for another order (a duplicate id)"
    return str(error) or type(error).__name__


def _ids(values: list[str]) -> list[uuid.UUID]:
    ids = []
    for value in values:
        for part in value.split(","):
            try:
                ids.append(uuid.UUID(part.strip()))
            except ValueError:
                continue
    return ids


def _back_url(actions: ActionSet, request, processes: list) -> str:
    """Where the operator came from (the filtered list), else the process or the list."""
    back = request.POST.get("next") or request.GET.get("next")
    if back and url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()):
        return back
    if len(processes) == 1:
        return actions.change_url(processes[0].pk)
    return actions.changelist_url()


def list_action(actions: ActionSet, name: str):
    """An admin list action that opens the confirmation page for the selected processes; the
    admin offers it to those its `has_<name>_permission` lets."""
    action = actions.actions[name]

    def run(model_admin, request, queryset):
        processes = list(queryset[: MAX_PROCESSES + 1])
        back = request.get_full_path()
        return confirmation_response(actions, model_admin, request, action, processes, back=back)

    run.__name__ = f"{name}_{actions.model._meta.model_name}s"
    run.short_description = f"{action.label}…"
    run.allowed_permissions = (name,)
    return run
