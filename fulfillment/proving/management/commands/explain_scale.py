import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from fulfillment.proving.query_plans import ORDERS_TABLE, RETURNS_TABLE, query_plans_check, statement_kind

SHOUTED = {ORDERS_TABLE: "ORDERS", RETURNS_TABLE: "RETURNS"}


class Command(BaseCommand):
    help = (
        "EXPLAIN ANALYZE the sweeper's, the console's and the API's order and return queries on this "
        "database; exits 1 if one reads the orders or the returns table with a sequential scan."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--client", help="Username of the API client whose order list (and returns) are checked."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")

    def handle(self, *args, client, **options):
        if connection.vendor != "postgresql":
            raise CommandError(f"explain_scale needs PostgreSQL; DATABASE_URL points to {connection.vendor}.")
        user = None
        if client:
            user = get_user_model().objects.filter(username=client).first()
            if user is None:
                raise CommandError(f"No user is named {client!r}; give an API client's username.")
        plans = query_plans_check(client=user)
        if options["json"]:
            self.stdout.write(json.dumps([_as_dict(plan) for plan in plans], indent=2))
        else:
            self._table(plans)
        scanning = {
            table: sorted({plan.check for plan in plans if table in plan.watched_seq_scans})
            for table in (ORDERS_TABLE, RETURNS_TABLE)
        }
        found = "; ".join(
            f"of {table} in: {', '.join(checks)}" for table, checks in scanning.items() if checks
        )
        if found:
            raise CommandError(
                f"A sequential scan {found}. "
                "An index that query needs is missing or no longer matches its filter."
            )

    def _table(self, plans):
        out = self.stdout.write
        out(f"{'query':<44}{'ms':>9}  {'seq scan':<10} indexes")
        for plan in plans:
            name = f"{plan.check}: {statement_kind(plan.sql)}"
            seq = ", ".join(SHOUTED.get(table, table) for table in plan.seq_scans) or "-"
            out(f"{name:<44}{plan.ms:>9.3f}  {seq:<10} {', '.join(plan.indexes) or '-'}")
        if not any(plan.check == "client's orders" for plan in plans):
            out("(no API client has orders: the client's order list was not checked)")
        if not any(plan.check == "client's returns" for plan in plans):
            out("(no order of an API client has returns: the client's return list was not checked)")


def _as_dict(plan) -> dict:
    return {
        "check": plan.check,
        "statement": statement_kind(plan.sql),
        "ms": plan.ms,
        "indexes": list(plan.indexes),
        "seq_scans": list(plan.seq_scans),
        "scans_orders": ORDERS_TABLE in plan.watched_seq_scans,
        "scans_returns": RETURNS_TABLE in plan.watched_seq_scans,
        "sql": plan.sql,
    }
