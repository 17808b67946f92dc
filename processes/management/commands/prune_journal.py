"""Delete the step-attempt detail of processes finished long ago, keeping their transitions."""

import re
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from processes import clock
from processes.pruning import journal_prune

UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_age(text: str) -> timedelta:
    match = re.fullmatch(r"(\d+)([dhm])", text.strip())
    if not match or int(match.group(1)) < 1:
        raise CommandError(f"--older-than must look like 90d, 12h or 30m, not {text!r}.")
    return timedelta(**{UNITS[match.group(2)]: int(match.group(1))})


class Command(BaseCommand):
    help = (
        "Delete step attempts (and retry/lease notes) of processes finished longer ago than "
        "--older-than, in short batches; transitions and operator actions are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", required=True, help="Age of the finish, e.g. 90d, 12h, 30m.")
        parser.add_argument("--batch-size", type=int, default=None, help="Processes per transaction.")
        parser.add_argument("--dry-run", action="store_true", help="Count what would go, delete nothing.")

    def handle(self, *args, older_than, batch_size=None, dry_run=False, **options):
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = clock.now() - parse_age(older_than)
        result = journal_prune(finished_before=cutoff, batch_size=batch_size, dry_run=dry_run)
        verb = "Would delete" if dry_run else "Deleted"
        self.stdout.write(
            f"{verb} {result.attempts} step attempts and {result.events} retry/lease notes of "
            f"{result.processes} processes finished before {cutoff:%Y-%m-%d %H:%M} UTC "
            f"({result.batches} batches); transitions kept."
        )
