"""`soak --faults infra`: the soak on servers of its own, whose Redis and PostgreSQL go down.

This process conducts; it never touches the machine's shared servers. It starts a throwaway
PostgreSQL and Redis (fulfillment.proving.throwaway_servers), migrates, starts gunicorn on them, and
runs the soak itself as a child (`manage.py soak --faults infra` pointed at those servers),
which places the orders, kills busy and idle workers and monitors, and checks the invariants.
Meanwhile it takes Redis down (killed, nothing saved) and later PostgreSQL (`pg_ctl stop -m
immediate`), each for a while, asks the API for orders and lists throughout each outage, and
after each return times how long /readyz takes to answer 200 again (the settle time). Its
report is the soak's, plus the outages: how long, the settle time, and the API's answers by
status code; any answer from /api/ that is not JSON, or a 5xx other than 503, fails the run.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from django.conf import settings

from fulfillment.proving.throwaway_servers import ThrowawayPostgres, ThrowawayRedis, free_port

# Set in the child soak's environment: it runs the soak itself and writes its report there.
CHILD_MARK, REPORT_FILE = "SOAK_INFRA_CHILD", "SOAK_REPORT_FILE"
DATABASE = "soak"
# When each server goes down (once this share of the orders finished) and for how long (seconds).
OUTAGES = (("redis", 0.25, 10.0), ("postgres", 0.6, 15.0))
PROBE_EVERY = 1.0  # two requests a second: the API's default limit is 120 a minute
SETTLE_LIMIT = 180.0


@dataclass
class Outage:
    server: str
    at_share: float
    seconds: float
    began_after: float | None = None
    down_seconds: float = 0.0
    settle_seconds: float | None = None  # from its return to /readyz answering 200
    resumed_seconds: float | None = None  # from its return to the next step attempt
    answers: Counter = field(default_factory=Counter)
    bad_answers: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "server": self.server,
            "began_after_seconds": self.began_after,
            "down_seconds": round(self.down_seconds, 1),
            "settle_seconds": self.settle_seconds,
            "resumed_seconds": self.resumed_seconds,
            "api_answers": dict(sorted(self.answers.items())),
            "api_bad_answers": self.bad_answers[:10],
        }

    def line(self) -> str:
        if self.began_after is None:
            return f"  {self.server:<10} never went down (the run ended first)"
        answers = ", ".join(f"{n}× {status}" for status, n in sorted(self.answers.items())) or "none"
        settle = "never" if self.settle_seconds is None else f"{self.settle_seconds:g}s"
        resumed = "never" if self.resumed_seconds is None else f"{self.resumed_seconds:g}s"
        return (
            f"  {self.server:<10} down {self.down_seconds:.1f}s from {self.began_after:g}s; after its "
            f"return /readyz 200 in {settle}, steps running again in {resumed}; API answered {answers}"
        )


def infra_soak_run(
    argv: list[str], *, orders: int, say: Callable[[str], None], quiet: bool = False
) -> tuple[dict, list[str]]:
    """Run the child soak on throwaway servers with the outages; returns (report, lines)."""
    postgres, redis = ThrowawayPostgres(), ThrowawayRedis()
    web = None
    child = None
    report_path = Path(tempfile.mkdtemp(prefix="soak-infra-")) / "report.json"
    try:
        say(f"throwaway PostgreSQL on 127.0.0.1:{postgres.port}, Redis on 127.0.0.1:{redis.port}")
        postgres.init()
        postgres.start()
        postgres.create_database(DATABASE)
        redis.start()
        env = _environment(postgres.url(DATABASE), redis.url)
        _manage(env, "migrate", "--noinput", "-v0")
        token = _manage(env, "create_api_client", "soak-probe").strip()
        web_port = free_port()
        web = _start_web(env, web_port, report_path.parent / "web.log")
        child = subprocess.Popen(
            [sys.executable, "manage.py", "soak", *argv],
            cwd=settings.BASE_DIR,
            env={**env, CHILD_MARK: "1", REPORT_FILE: str(report_path)},
            stdout=sys.stderr if quiet else None,  # its progress and report, as it goes
        )
        outages = [Outage(server, share, seconds) for server, share, seconds in OUTAGES]
        probe = ApiProbe(f"http://127.0.0.1:{web_port}", token)
        started = time.monotonic()
        servers = {"redis": redis, "postgres": postgres}
        for outage in outages:
            _wait_for_share(child, postgres, outage.at_share * orders)
            if child.poll() is not None:
                break
            outage.began_after = round(time.monotonic() - started, 1)
            say(f"[{outage.began_after:6.1f}s] {outage.server} goes down for {outage.seconds:g}s")
            _outage(outage, servers[outage.server], probe)
            back = time.time()
            say(f"[{time.monotonic() - started:6.1f}s] {outage.server} is back; waiting for /readyz")
            outage.settle_seconds = probe.settle(SETTLE_LIMIT)
            outage.resumed_seconds = _first_attempt_after(postgres, back, SETTLE_LIMIT)
            say(
                f"[{time.monotonic() - started:6.1f}s] /readyz 200 after {outage.settle_seconds}s, "
                f"steps running after {outage.resumed_seconds}s"
            )
        child.wait()
        report = json.loads(report_path.read_text()) if report_path.exists() else {"ok": False}
    finally:
        for process in (child, web):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
        redis.remove()
        postgres.remove()
    bad = sum(len(outage.bad_answers) for outage in outages)
    report["infra"] = {"outages": [outage.as_dict() for outage in outages], "api_bad_answers": bad}
    settled = all(o.settle_seconds is not None and o.resumed_seconds is not None for o in outages)
    report["ok"] = bool(report.get("ok")) and not bad and settled
    lines = ["Infrastructure outages (the run's own servers):", *(outage.line() for outage in outages)]
    if bad:
        lines.append(f"  API answers that were not JSON or were a 5xx other than 503: {bad}")
    return report, lines


def _outage(outage: Outage, server, probe: "ApiProbe") -> None:
    began = time.monotonic()
    if outage.server == "postgres":
        server.stop("immediate")
    else:
        server.stop()
    while time.monotonic() - began < outage.seconds:
        probe.round(outage)
        time.sleep(PROBE_EVERY)
    server.start()
    outage.down_seconds = time.monotonic() - began


def _wait_for_share(child: subprocess.Popen, postgres: ThrowawayPostgres, finished: float) -> None:
    """Until that many orders finished (read straight from the soak's database), or it ended."""
    query = "SELECT count(*) FROM fulfillment_order WHERE run_status = 'finished'"
    while child.poll() is None:
        try:
            with psycopg.connect(postgres.url(DATABASE), connect_timeout=2) as connection:
                count = connection.execute(query).fetchone()[0]
        except psycopg.Error:
            count = 0
        if count >= finished:
            return
        time.sleep(0.5)


def _first_attempt_after(postgres: ThrowawayPostgres, back: float, limit: float) -> float | None:
    """Seconds from `back` (a Unix time) to the first step attempt started after it."""
    query = "SELECT min(started_at) FROM processes_stepattempt WHERE started_at > to_timestamp(%s)"
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(postgres.url(DATABASE), connect_timeout=2) as connection:
                first = connection.execute(query, [back]).fetchone()[0]
        except psycopg.Error:
            first = None
        if first is not None:
            return round(first.timestamp() - back, 1)
        time.sleep(0.5)
    return None


class ApiProbe:
    """Asks the API what a client would, and sorts the answers by status code."""

    def __init__(self, base: str, token: str):
        self.base, self.token = base, token

    def round(self, outage: Outage) -> None:
        body = {
            "email": "probe@example.com",
            "payment_token": "tok_ok",
            "shipping_address": {
                "name": "Probe",
                "line1": "1 Probe Street",
                "city": "Berlin",
                "postal_code": "10115",
                "country": "DE",
            },
            "lines": [{"sku": "SOAK-MUG", "quantity": 1}],
        }
        for method, path, payload in (("POST", "/api/orders/", body), ("GET", "/api/orders/", None)):
            status, content_type, text = self._ask(method, path, payload)
            outage.answers[str(status)] += 1
            if status == 0:
                continue  # the web server did not answer at all: counted, not judged
            if "json" not in content_type or (status >= 500 and status != 503):
                outage.bad_answers.append(f"{method} {path}: {status} {content_type} {text[:120]!r}")

    def settle(self, limit: float) -> float | None:
        began = time.monotonic()
        while time.monotonic() - began < limit:
            status, _, _ = self._ask("GET", "/readyz", None)
            if status == 200:
                return round(time.monotonic() - began, 1)
            time.sleep(0.25)
        return None

    def _ask(self, method: str, path: str, payload) -> tuple[int, str, str]:
        headers = {"Authorization": f"Token {self.token}", "Accept": "application/json"}
        data = None
        if payload is not None:
            data = json.dumps(payload).encode()
            headers.update({"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers.get("Content-Type", ""), ""
        except urllib.error.HTTPError as error:
            return error.code, error.headers.get("Content-Type", ""), error.read().decode(errors="replace")
        except (urllib.error.URLError, OSError):
            return 0, "", ""


def _environment(database_url: str, redis_url: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        Q_CLUSTER_NAME="soak-infra",
        SECRET_KEY=settings.SECRET_KEY,
        PYTHONUNBUFFERED="1",
    )
    return env


def _manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def _start_web(env: dict[str, str], port: int, log_path: Path) -> subprocess.Popen:
    web_env = {**env, "GUNICORN_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"}
    with open(log_path, "wb") as log:
        web = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "fulfillment.wsgi"],
            cwd=settings.BASE_DIR,
            env=web_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 30
    probe = ApiProbe(f"http://127.0.0.1:{port}", "")
    while probe._ask("GET", "/healthz", None)[0] != 200:
        if web.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start: see {log_path}")
        time.sleep(0.2)
    return web
