import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from fulfillment.proving.noop_inprocess import noop_inprocess


class Command(BaseCommand):
    help = (
        "Run no-op workflows in this process as a worker runs them (no queue, no cluster) and print "
        "the engine's CPU, its backend's CPU, statements and commits per workflow (docs/performance.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workflows", type=int, default=200, help="Workflows measured (default 200).")
        parser.add_argument(
            "--profile", help="Write a cProfile of the measured run (CPU clock) to this file."
        )
        parser.add_argument(
            "--wal",
            action="store_true",
            help="Also break down the WAL the measured run wrote, by relation and record kind (pg_waldump).",
        )

    def handle(self, *args, workflows, profile, wal, **options):
        if not 1 <= workflows <= 100_000:
            raise CommandError(f"--workflows must be between 1 and 100000, not {workflows}.")
        if connection.vendor != "postgresql":
            raise CommandError("profile_noop measures PostgreSQL: set DATABASE_URL=postgres://...")
        self.stdout.write(json.dumps(noop_inprocess(workflows=workflows, profile=profile, wal=wal), indent=2))
