"""Run the chaos soak: orders through real clusters that are killed, faults, lost messages."""

import json
import os
import sys
from dataclasses import replace
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from fulfillment.proving.infra_soak import CHILD_MARK, REPORT_FILE, infra_soak_run
from fulfillment.proving.soak import PROFILES, SoakConfig, soak_run
from fulfillment.simulators.conf import SERVICES

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


class Command(BaseCommand):
    help = (
        "Place N orders through real qcluster processes while killing workers and clusters, "
        "injecting service faults and dropping queue messages; then check the invariants. "
        "Exits 1 on a time-out, a lost order or any violation."
    )

    def add_arguments(self, parser):
        parser.add_argument("--orders", type=int, default=100)
        parser.add_argument("--workers", type=int, default=4, help="Worker processes per cluster.")
        parser.add_argument(
            "--kill-every", type=float, default=5.0, help="Seconds between two kills (0: none)."
        )
        parser.add_argument("--faults", choices=sorted(PROFILES), default="heavy")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument(
            "--outage-service",
            choices=SERVICES,
            default=None,
            help="With --faults outage: the service that goes down (default carrier).",
        )
        parser.add_argument(
            "--outage-seconds",
            type=float,
            default=None,
            help="With --faults outage: seconds it stays down, once a fifth of the orders are placed (30).",
        )
        parser.add_argument("--clusters", type=int, default=1, help="Clusters side by side, as machines.")
        parser.add_argument(
            "--carrier-limit",
            type=float,
            default=0.0,
            help="Label calls per second the carrier allows (CARRIER_RATE_LIMIT for the clusters); "
            "the report says the most it saw in any second. Default: none.",
        )
        parser.add_argument(
            "--broker",
            choices=["orm", "redis"],
            default=None,
            help=f"Default: the configured one. redis uses REDIS_URL, or {DEFAULT_REDIS_URL} if unset.",
        )
        parser.add_argument("--timeout", type=float, default=600.0, help="Seconds to wait for the orders.")
        parser.add_argument(
            "--returns",
            type=float,
            default=0.1,
            help="Share of the completed orders the soak returns, from 0 to 1 (default 0.1).",
        )
        parser.add_argument(
            "--in-flight", type=int, default=200, help="Orders moving at once, at most (a client's pace)."
        )
        parser.add_argument("--log-dir", type=Path, default=None, help="Cluster logs (default var/soak/...).")
        parser.add_argument("--json", action="store_true", dest="as_json", help="Print the report as JSON.")

    def handle(self, *args, broker, as_json, **options):
        if options["faults"] == "infra" and not os.environ.get(CHILD_MARK):
            return self._conduct_infra(broker, as_json, options)
        if not os.environ.get(CHILD_MARK):
            self._switch_broker(broker)
        config = SoakConfig(
            orders=options["orders"],
            workers=options["workers"],
            kill_every=options["kill_every"],
            faults=options["faults"],
            seed=options["seed"],
            clusters=options["clusters"],
            timeout=options["timeout"],
            max_in_flight=options["in_flight"],
            log_dir=options["log_dir"],
            carrier_limit=options["carrier_limit"],
            returns=options["returns"],
        )
        _validate(config)
        config = _with_outage(config, options["outage_service"], options["outage_seconds"])
        say = (lambda line: self.stderr.write(line)) if as_json else self.stdout.write
        report = soak_run(config, say=say)
        if path := os.environ.get(REPORT_FILE):
            Path(path).write_text(json.dumps(report.as_dict(), sort_keys=True))
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2, sort_keys=True))
        else:
            self.stdout.write("\n".join(report.lines()))
        if not report.ok:
            raise CommandError("The soak failed: see the figures above.")

    def _conduct_infra(self, broker: str | None, as_json: bool, options: dict) -> None:
        """Run this soak on throwaway servers that go down (fulfillment.proving.infra_soak)."""
        if broker == "orm":
            raise CommandError("--faults infra runs on a Redis of its own that it restarts: no --broker orm.")
        if options["outage_service"] is not None or options["outage_seconds"] is not None:
            raise CommandError("--outage-service and --outage-seconds go with --faults outage.")
        config = SoakConfig(
            orders=options["orders"],
            workers=options["workers"],
            kill_every=options["kill_every"],
            faults="infra",
            clusters=options["clusters"],
            timeout=options["timeout"],
            max_in_flight=options["in_flight"],
            carrier_limit=options["carrier_limit"],
            returns=options["returns"],
        )
        _validate(config)
        argv = [
            *("--orders", str(config.orders), "--workers", str(config.workers)),
            *("--kill-every", str(config.kill_every), "--faults", "infra", "--seed", str(options["seed"])),
            *("--clusters", str(config.clusters), "--timeout", str(config.timeout)),
            *("--in-flight", str(config.max_in_flight), "--carrier-limit", str(config.carrier_limit)),
            *("--returns", str(config.returns)),
            *(("--log-dir", str(options["log_dir"])) if options["log_dir"] else ()),
        ]
        say = (lambda line: self.stderr.write(line)) if as_json else self.stdout.write
        report, lines = infra_soak_run(argv, orders=config.orders, say=say, quiet=as_json)
        if as_json:
            self.stdout.write(json.dumps(report, indent=2, sort_keys=True))
        else:
            verdict = "OK" if report["ok"] else "FAILED"
            self.stdout.write("\n".join([*lines, f"RESULT (with the outages): {verdict}"]))
        if not report["ok"]:
            raise CommandError("The soak failed: see the figures above.")

    def _switch_broker(self, broker: str | None) -> None:
        """The soak process enqueues too, so it must use the broker the clusters use: when asked
        for the other one, run the same command again with REDIS_URL set or unset."""
        configured = "redis" if settings.REDIS_URL else "orm"
        if broker is None or broker == configured:
            return
        env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
        if broker == "redis":
            env["REDIS_URL"] = DEFAULT_REDIS_URL
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def _validate(config: SoakConfig) -> None:
    if not 1 <= config.orders <= 1_000_000:
        raise CommandError(f"--orders must be between 1 and 1000000, not {config.orders}.")
    if config.workers < 2:
        raise CommandError("--workers must be at least 2 (Q_WORKERS' own minimum).")
    if config.clusters < 1:
        raise CommandError("--clusters must be at least 1.")
    if config.kill_every < 0 or config.timeout <= 0 or config.max_in_flight < 1:
        raise CommandError("--kill-every must be >= 0, --timeout and --in-flight positive.")
    if not 0 <= config.carrier_limit <= 10_000:
        raise CommandError(
            f"--carrier-limit must be from 0 (none) to 10000 calls per second, not {config.carrier_limit:g}."
        )
    if not 0 <= config.returns <= 1:  # NaN fails both
        raise CommandError(f"--returns must be a share from 0 to 1, not {config.returns:g}.")


def _with_outage(config: SoakConfig, service: str | None, seconds: float | None) -> SoakConfig:
    """The outage options go only with the profile that has an outage."""
    if (service is not None or seconds is not None) and not config.profile.outage:
        raise CommandError("--outage-service and --outage-seconds go with --faults outage.")
    if seconds is not None and not 0 < seconds <= config.timeout:
        raise CommandError(f"--outage-seconds must be positive and at most --timeout, not {seconds:g}.")
    changes = {"outage_service": service, "outage_seconds": seconds}
    return replace(config, **{name: value for name, value in changes.items() if value is not None})
