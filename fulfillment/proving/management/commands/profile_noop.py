import json

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from fulfillment.proving.noop_inprocess import noop_inprocess
from fulfillment.proving.order_inprocess import order_inprocess


class Command(BaseCommand):
    help = (
        "Run no-op workflows in this process as a worker runs them (no queue, no cluster) and print "
        "the engine's CPU, its backend's CPU, statements and commits per workflow; with --workflow "
        "order, orders placed through the API, run and picked, each part counted apart "
        "(docs/performance.md)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--workflow",
            choices=("noop", "order"),
            default="noop",
            help="noop (the engine alone, default) or order (API, worker and picker, faults off).",
        )
        parser.add_argument("--workflows", type=int, default=200, help="Workflows measured (default 200).")
        parser.add_argument(
            "--profile",
            help="Write a cProfile of the measured run (CPU clock) to this file; with --workflow "
            "order, one per part: FILE.web, FILE.worker, FILE.picker.",
        )
        parser.add_argument(
            "--wal",
            action="store_true",
            help="Also break down the WAL the measured run wrote, by relation and record kind (pg_waldump).",
        )

    def handle(self, *args, workflow, workflows, profile, wal, **options):
        if not 1 <= workflows <= 100_000:
            raise CommandError(f"--workflows must be between 1 and 100000, not {workflows}.")
        if connection.vendor != "postgresql":
            raise CommandError("profile_noop measures PostgreSQL: set DATABASE_URL=postgres://...")
        if workflow == "order" and wal:
            raise CommandError("--wal breaks down the no-op workflow's WAL only: leave out --workflow order.")
        if workflow == "order":
            result = order_inprocess(orders=workflows, profile=profile)
        else:
            result = noop_inprocess(workflows=workflows, profile=profile, wal=wal)
        self.stdout.write(json.dumps(result, indent=2))
