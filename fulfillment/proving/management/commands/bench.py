import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from fulfillment.proving import benchmarks, dbos_peer, noop_compare, noop_report

WORKFLOWS = ("noop",)


class Command(BaseCommand):
    help = (
        "Benchmark the engine against bare django-q2 tasks on the configured database and broker; "
        "with --workflow noop, the engine alone on a no-op workflow, and beside a peer (--peer dbos)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=200, help="Orders end to end (default 200).")
        parser.add_argument("--tasks", type=int, default=None, help="Bare no-op tasks (default 5 × orders).")
        parser.add_argument("--workers", type=int, default=None, help="Workers (default Q_CLUSTER's).")
        parser.add_argument("--timeout", type=float, default=600, help="Seconds each phase may take.")
        parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
        noop = parser.add_argument_group("the noop bench (docs/performance.md, 'The noop bench')")
        noop.add_argument("--workflow", help="'noop': five no-op steps through a real cluster.")
        noop.add_argument("--workflows", type=int, default=200, help="Workflows per round (default 200).")
        noop.add_argument("--rounds", type=int, default=2, help="Rounds per side, alternating (default 2).")
        noop.add_argument("--peer", help="'dbos': the same workflow on DBOS Transact, side by side.")
        noop.add_argument(
            "--peer-polling",
            type=float,
            default=dbos_peer.DEFAULT_POLLING,
            help=f"The DBOS queue's polling interval in seconds (default {dbos_peer.DEFAULT_POLLING}).",
        )
        noop.add_argument(
            "--peer-concurrency",
            type=int,
            default=dbos_peer.DEFAULT_CONCURRENCY,
            help=f"DBOS's worker_concurrency per executor (default {dbos_peer.DEFAULT_CONCURRENCY}).",
        )

    def handle(self, *args, workers, timeout, **options):
        workers = workers or settings.Q_CLUSTER["workers"]
        if workers < 2:
            raise CommandError("--workers must be at least 2 (one runs the sweeper loop).")
        if options["workflow"] is None:
            if options["peer"] is not None:
                raise CommandError("--peer runs beside the noop workflow: add --workflow noop.")
            return self._orders_bench(workers=workers, timeout=timeout, **options)
        bench = self._noop_bench(workers=workers, timeout=timeout, **options)
        try:
            result = noop_compare.noop_bench_run(bench)
        except (TimeoutError, dbos_peer.PeerFailed) as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self.stdout.write("\n".join(noop_report.noop_table(result)))

    def _noop_bench(self, *, workflow, workflows, rounds, peer, peer_polling, peer_concurrency, **options):
        """The noop bench's arguments, checked before anything runs."""
        if workflow not in WORKFLOWS:
            raise CommandError(f"--workflow must be one of {', '.join(WORKFLOWS)}, not {workflow!r}.")
        if not 1 <= workflows <= 1_000_000:
            raise CommandError(f"--workflows must be between 1 and 1000000, not {workflows}.")
        if rounds < 1:
            raise CommandError(f"--rounds must be at least 1, not {rounds}.")
        if peer is not None and peer not in noop_compare.PEERS:
            raise CommandError(f"--peer must be one of {', '.join(noop_compare.PEERS)}, not {peer!r}.")
        if peer == "dbos" and not dbos_peer.installed():
            raise CommandError("--peer dbos needs DBOS Transact: pip install -e '.[bench]'.")
        if not peer_polling > 0 or peer_concurrency < 1:
            raise CommandError("--peer-polling must be positive and --peer-concurrency at least 1.")
        if connection.vendor != "postgresql":
            raise CommandError("The noop bench measures PostgreSQL: set DATABASE_URL=postgres://...")
        return noop_compare.NoopBench(
            workflows=workflows,
            rounds=rounds,
            workers=options["workers"],
            timeout=options["timeout"],
            peer=peer,
            peer_polling=peer_polling,
            peer_concurrency=peer_concurrency,
        )

    def _orders_bench(self, *, orders, tasks, workers, timeout, **options):
        if not 1 <= orders <= 1_000_000:
            raise CommandError(f"--orders must be between 1 and 1000000, not {orders}.")
        tasks = tasks or orders * 5
        if tasks < 1:
            raise CommandError(f"--tasks must be positive, not {tasks}.")
        try:
            bare = benchmarks.bare_queue(tasks=tasks, workers=workers, timeout=timeout)
            engine = benchmarks.engine_end_to_end(orders=orders, workers=workers, timeout=timeout)
            costs = benchmarks.engine_cost_per_step(orders=min(orders, 100))
        except TimeoutError as exc:
            raise CommandError(str(exc)) from None
        result = {
            "database": connection.vendor,
            "broker": "redis" if "redis" in settings.Q_CLUSTER else "orm",
            "workers": workers,
            "bare_queue": bare,
            "engine": engine,
            "per_step": benchmarks.as_dict(costs),
            "ratio_transitions_to_bare_tasks": round(
                engine["transitions_per_second"] / bare["tasks_per_second"], 2
            ),
        }
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self._table(result)

    def _table(self, r):
        out, bare, e = self.stdout.write, r["bare_queue"], r["engine"]
        out(f"database {r['database']}, broker {r['broker']}, {r['workers']} workers")
        out(f"bare queue  {bare['tasks_per_second']:>8} no-op tasks/s ({bare['tasks']} tasks)")
        out(f"engine      {e['orders_per_second']:>8} orders/s ({e['orders']} orders in {e['seconds']}s)")
        out(f"            {e['transitions_per_second']:>8} step transitions/s")
        out(f"ratio       {r['ratio_transitions_to_bare_tasks']:>8} (transitions/s / bare tasks/s)")
        out(f"{'step':<20}{'n':>5}{'p50 ms':>9}{'p95 ms':>9}{'CPU ms':>9}{'SQL':>6}{'commits':>9}")
        for c in r["per_step"]:
            out(
                f"{c['step']:<20}{c['samples']:>5}{c['p50_ms']:>9}{c['p95_ms']:>9}{c['cpu_ms']:>9}"
                f"{c['statements']:>6}{c['commits']:>9}"
            )
