import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from fulfillment.api.clients import NotAnApiClient
from fulfillment.proving import (
    benchmarks,
    dbos_peer,
    e2e_bench,
    e2e_load,
    e2e_report,
    e2e_stack,
    noop_compare,
    noop_report,
)

WORKFLOWS = ("noop",)
MAX_RATE = 1000
# The end-to-end options and their defaults, applied only with --end-to-end (None: not given).
END_TO_END_DEFAULTS = {
    "rates": "10,20",
    "seconds": 60.0,
    "ramp_start": None,
    "ramp_step": 5.0,
    "max_rate": 200.0,
}


class Command(BaseCommand):
    help = (
        "Benchmark the engine against bare django-q2 tasks on the configured database and broker; "
        "with --workflow noop, the engine alone on a no-op workflow, and beside a peer (--peer dbos); "
        "with --end-to-end, latency through the API at steady rates of orders."
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
        e2e = parser.add_argument_group("the end-to-end bench (docs/performance.md, 'End to end')")
        e2e.add_argument(
            "--end-to-end",
            action="store_true",
            help="Place orders through the API at steady rates; latency from the 201 to label and pick.",
        )
        e2e.add_argument("--rates", help="Orders a second, one step each, comma-separated (default 10,20).")
        e2e.add_argument("--seconds", type=float, help="Seconds each step lasts (default 60).")
        e2e.add_argument(
            "--ramp", action="store_true", help="Then step the rate up until it no longer holds."
        )
        e2e.add_argument(
            "--ramp-start",
            type=float,
            help="The ramp's first rate (default one step above the highest held).",
        )
        e2e.add_argument(
            "--ramp-step", type=float, help="Orders a second added at each ramp step (default 5)."
        )
        e2e.add_argument("--max-rate", type=float, help="The ramp's highest rate (default 200).")

    def handle(self, *args, workers, timeout, **options):
        workers = workers or settings.Q_CLUSTER["workers"]
        if workers < 2:
            raise CommandError("--workers must be at least 2 (Q_WORKERS' own minimum).")
        if options["end_to_end"]:
            return self._end_to_end(
                self._end_to_end_bench(workers=workers, timeout=timeout, **options), options
            )
        given = [f"--{name.replace('_', '-')}" for name in END_TO_END_DEFAULTS if options[name] is not None]
        if given or options["ramp"]:
            raise CommandError(
                f"{(given or ['--ramp'])[0]} is an option of the end-to-end bench: add --end-to-end."
            )
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

    def _end_to_end(self, bench: e2e_bench.EndToEndBench, options) -> None:
        progress = self.stderr.write  # the steps as they go; --json keeps stdout to the result
        try:
            result = e2e_bench.end_to_end_run(bench, progress=progress)
        except (e2e_stack.StackFailed, e2e_load.WarmUpRefused, NotAnApiClient) as exc:
            raise CommandError(str(exc)) from None
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        else:
            self.stdout.write("\n".join(e2e_report.end_to_end_table(result)))

    def _end_to_end_bench(self, *, workers, timeout, **options) -> e2e_bench.EndToEndBench:
        """The end-to-end bench's arguments, checked before anything runs."""
        if options["workflow"] is not None:
            raise CommandError("--end-to-end places orders: it does not take --workflow.")
        o = {
            name: default if options[name] is None else options[name]
            for name, default in END_TO_END_DEFAULTS.items()
        }
        rates = _rates(o["rates"])
        seconds = o["seconds"]
        if not 3 <= seconds <= 3600:
            raise CommandError(f"--seconds must be between 3 and 3600, not {seconds:g}.")
        if min(rates) * seconds < 3:
            raise CommandError(
                f"{min(rates):g} orders/s for {seconds:g} s places fewer than 3 orders: "
                "a step needs one in each third."
            )
        ramp_given = [name for name in ("ramp_start", "ramp_step", "max_rate") if options[name] is not None]
        if ramp_given and not options["ramp"]:
            raise CommandError(f"--{ramp_given[0].replace('_', '-')} shapes the ramp: add --ramp.")
        if not 0 < o["ramp_step"] <= MAX_RATE:
            raise CommandError(f"--ramp-step must be above 0 and at most {MAX_RATE}, not {o['ramp_step']:g}.")
        if not 0 < o["max_rate"] <= MAX_RATE:
            raise CommandError(f"--max-rate must be above 0 and at most {MAX_RATE}, not {o['max_rate']:g}.")
        if o["ramp_start"] is not None and not 0 < o["ramp_start"] <= o["max_rate"]:
            raise CommandError(
                f"--ramp-start must be above 0 and at most --max-rate, not {o['ramp_start']:g}."
            )
        if connection.vendor != "postgresql":
            raise CommandError("The end-to-end bench measures PostgreSQL: set DATABASE_URL=postgres://...")
        if not 1 <= timeout <= 86400:
            raise CommandError(f"--timeout must be between 1 and 86400 seconds, not {timeout:g}.")
        return e2e_bench.EndToEndBench(
            rates=rates,
            seconds=seconds,
            workers=workers,
            timeout=timeout,
            ramp=options["ramp"],
            ramp_start=o["ramp_start"],
            ramp_step=o["ramp_step"],
            max_rate=o["max_rate"],
        )

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


def _rates(text: str) -> tuple[float, ...]:
    """'10,20' as (10.0, 20.0); each rate above 0 and at most MAX_RATE orders a second."""
    parts = [part.strip() for part in text.split(",")]
    try:
        rates = tuple(float(part) for part in parts)
    except ValueError:
        raise CommandError(
            f"--rates must be orders a second separated by commas, like 10,20, not {text!r}."
        ) from None
    bad = [rate for rate in rates if not 0 < rate <= MAX_RATE]  # NaN fails this too
    if bad:
        raise CommandError(f"--rates must each be above 0 and at most {MAX_RATE}, not {bad[0]:g}.")
    return rates
