"""Preview or run an operator action over every order a filter matches, from a shell.

The filters are the order list's (fulfillment.order_selection: the same function the console's
"Act on all N matching" applies), the preview the console's, and `run` starts the same bulk
operation (processes.bulk) as the operator named by --operator, then follows it. Bad arguments
are refused with what is wrong, exit code 2, and nothing is created.
"""

import getpass
import json
import time

from django.core.management.base import BaseCommand, CommandError

from fulfillment.bulk_actions import BULK_ACTIONS, LABEL
from fulfillment.models import Warehouse
from fulfillment.order_selection import SelectionError, orders_for_preview, selection_from_params
from processes.bulk import bulk_run, bulk_start
from processes.bulk_preview import bulk_preview
from processes.journal import Actor
from processes.models.bulk import BulkOperation
from processes.models.journal import ActorType


def refuse(message: str) -> CommandError:
    return CommandError(message, returncode=2)


class Command(BaseCommand):
    help = "Preview, or run in the background, an operator action over every order a filter matches."

    def add_arguments(self, parser):
        parser.add_argument("command", choices=["preview", "run"])
        parser.add_argument("--action", required=True, choices=[a.name for a in BULK_ACTIONS])
        parser.add_argument("--reason", default="", help="Written to each order's journal (required to run).")
        parser.add_argument("--operator", default="", help="Whom the journal names (default: your login).")
        parser.add_argument(
            "--to-version", type=int, help="For --action migrate: the version (default newest)."
        )
        filters = parser.add_argument_group("filters, as the order list has them")
        filters.add_argument("--state")
        filters.add_argument("--step", help="A step's name, or 'none' for finished orders.")
        filters.add_argument("--stuck", choices=["yes", "attention"])
        filters.add_argument("--needs-attention", action="store_const", const="1")
        filters.add_argument("--warehouse", help="A warehouse's code.")
        filters.add_argument("--search", help="As the list's search box.")
        filters.add_argument("--created-after", help="A date (2026-12-06) or an ISO 8601 time with its zone.")
        filters.add_argument("--created-before", help="A date or an ISO 8601 time with its zone.")
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
        parser.add_argument("--no-follow", action="store_true", help="run: print the id and return.")
        parser.add_argument(
            "--in-process", action="store_true", help="run: act in this process instead of the task queue."
        )

    def handle(self, *args, **options):
        selection = self._selection(options)
        arguments = {"to_version": options["to_version"]} if options["to_version"] else {}
        if options["command"] == "preview":
            return self._preview(selection, options["action"], arguments, options["json"])
        if not options["reason"].strip():
            raise refuse("Give --reason: it is written to every order's journal.")
        ids = list(selection.queryset().values_list("pk", flat=True))
        if not ids:
            raise refuse(f"No order matches {selection.words()}: nothing to do.")
        actor = Actor(ActorType.OPERATOR, options["operator"] or getpass.getuser())
        operation = bulk_start(
            label=LABEL,
            action=options["action"],
            process_ids=ids,
            actor=actor,
            reason=options["reason"],
            arguments=arguments,
            selection=selection.words(),
        )
        self.stdout.write(f"bulk operation {operation.pk}: {options['action']} of {len(ids)} orders")
        if options["in_process"]:
            bulk_run(operation.pk)
        if not options["no_follow"]:
            self._follow(operation.pk, options["json"])

    def _selection(self, options):
        params = {
            "state__exact": options["state"],
            "step": options["step"],
            "stuck": options["stuck"],
            "needs_attention__exact": options["needs_attention"],
            "created_at__gte": options["created_after"],
            "created_at__lt": options["created_before"],
            "q": options["search"],
        }
        if options["warehouse"]:
            warehouse = Warehouse.objects.filter(code=options["warehouse"]).first()
            if warehouse is None:
                raise refuse(f"No warehouse {options['warehouse']!r}.")
            params["warehouse__id__exact"] = str(warehouse.pk)
        try:
            return selection_from_params({k: v for k, v in params.items() if v is not None})
        except SelectionError as error:
            raise refuse(str(error)) from None

    def _preview(self, selection, action: str, arguments: dict, as_json: bool) -> None:
        ids = selection.queryset().values_list("pk", flat=True)
        orders = orders_for_preview(list(ids)).iterator(500)
        preview = bulk_preview(label=LABEL, action=action, processes=orders, arguments=arguments)
        figures = {"selection": selection.words(), **preview.as_dict()}
        if as_json:
            self.stdout.write(json.dumps(figures, indent=2))
            return
        self.stdout.write(f"{action} of the orders matching {figures['selection']}: {preview.total} orders")
        self.stdout.write(f"  will change {preview.will_act}, will refuse {preview.refused}")
        for reason, count in preview.refusal_rows():
            self.stdout.write(f"    {count:>6}  {reason}")
        for kind, keys in preview.undo_rows():
            self.stdout.write(f"  {kind}: " + ", ".join(f"{total} {key}" for key, total in keys))

    def _follow(self, operation_id: int, as_json: bool) -> None:
        while True:
            operation = BulkOperation.objects.get(pk=operation_id)
            line = f"{operation.state}: {operation.done} done, {operation.refused} refused, "
            line += f"{operation.failed} failed, {operation.left} left"
            if operation.finished:
                break
            self.stdout.write(line)
            time.sleep(1)
        if as_json:
            keys = ["state", "total", "done", "refused", "failed", "summary"]
            self.stdout.write(json.dumps({"id": operation.pk, **{k: getattr(operation, k) for k in keys}}))
        else:
            self.stdout.write(operation.summary)
