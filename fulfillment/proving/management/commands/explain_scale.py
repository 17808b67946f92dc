import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from fulfillment.proving.query_plans import ORDERS_TABLE, query_plans_check, statement_kind


class Command(BaseCommand):
    help = (
        "EXPLAIN ANALYZE the sweeper's, the console's and the API's queries on this database; "
        "exits 1 if one reads the orders table with a sequential scan."
    )

    def add_arguments(self, parser):
        parser.add_argument("--client", help="Username of the API client whose order list is checked.")
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
        scanning = sorted({plan.check for plan in plans if plan.scans_orders})
        if scanning:
            raise CommandError(
                f"A sequential scan of {ORDERS_TABLE} in: {', '.join(scanning)}. "
                "An index that query needs is missing or no longer matches its filter."
            )

    def _table(self, plans):
        out = self.stdout.write
        out(f"{'query':<34}{'ms':>9}  {'seq scan':<10}indexes")
        for plan in plans:
            name = f"{plan.check}: {statement_kind(plan.sql)}"
            seq = "ORDERS" if plan.scans_orders else ", ".join(plan.seq_scans) or "-"
            out(f"{name:<34}{plan.ms:>9.3f}  {seq:<10}{', '.join(plan.indexes) or '-'}")
        if not any(plan.check == "client's orders" for plan in plans):
            out("(no API client has orders: the client's order list was not checked)")


def _as_dict(plan) -> dict:
    return {
        "check": plan.check,
        "statement": statement_kind(plan.sql),
        "ms": plan.ms,
        "indexes": list(plan.indexes),
        "seq_scans": list(plan.seq_scans),
        "scans_orders": plan.scans_orders,
        "sql": plan.sql,
    }
