"""The service as production runs it, started for `bench --end-to-end` and stopped after.

Three kinds of process, each in a session of its own (stopping one stops its children):
- the web: `gunicorn fulfillment.wsgi` with gunicorn.conf.py (the Procfile's web process,
  WEB_CONCURRENCY sync workers), on a free loopback port;
- the workers: `run_workers` as the Procfile's worker runs it, the supervisor with its qcluster
  and its sweeper process (fulfillment.proving.benchmarks.cluster), the simulators quiet;
- the warehouse: the simulated picker, confirming every pick as soon as it sees it.

All of them inherit this process's environment (DATABASE_URL, REDIS_URL, Q_CLUSTER_NAME,
DJANGO_ENV...) with the simulators' faults and latency off. The web server's client rate limit
is raised above any rate the bench sends (the limit is still counted on every request), HTTP
is plain (as `make serve` on this machine) and 127.0.0.1 an allowed host.
"""

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from fulfillment.proving import benchmarks
from fulfillment.proving.throwaway_servers import answers, free_port

# The application names of the processes' database sessions (pg_stat_activity).
WEB_SESSIONS = "bench-e2e-web"
CLUSTER_SESSIONS = "bench-e2e-cluster"
PICKER_SESSIONS = "bench-e2e-picker"
UNTHROTTLED = "1000000/min"
START_TIMEOUT = 60.0
STOP_GRACE = 10.0


class StackFailed(RuntimeError):
    """A process of the service would not start, or stopped while the bench ran."""


class Stack:
    """The running processes: the web server's port, and a check that none has died."""

    def __init__(self, *, port: int, children: dict[str, subprocess.Popen], log_dir: Path):
        self.port, self.children, self.log_dir = port, children, log_dir

    def check(self) -> None:
        dead = [name for name, child in self.children.items() if child.poll() is not None]
        if dead:
            raise StackFailed(f"{', '.join(dead)} stopped during the bench; see the logs in {self.log_dir}")


@contextmanager
def service_stack(*, workers: int):
    """Start the web server, a cluster of `workers` and the picker; yields a Stack."""
    log_dir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    port = free_port()
    quiet = {**os.environ, **benchmarks.QUIET_SERVICES}
    web_env = {
        **quiet,
        "PGAPPNAME": WEB_SESSIONS,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "API_THROTTLE_RATE": UNTHROTTLED,
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
    }
    picker_env = {**quiet, "PGAPPNAME": PICKER_SESSIONS}
    with benchmarks.cluster(workers, env={"PGAPPNAME": CLUSTER_SESSIONS}, stop_grace=STOP_GRACE) as cluster:
        children = {"cluster": cluster}
        try:
            gunicorn = str(Path(sys.executable).parent / "gunicorn")
            children["web"] = _spawn([gunicorn, "fulfillment.wsgi"], web_env, log_dir / "web.log")
            picker = [sys.executable, "manage.py", "simulate_picker", "--delay", "0"]
            children["picker"] = _spawn(picker, picker_env, log_dir / "picker.log")
            stack = Stack(port=port, children=children, log_dir=log_dir)
            _wait_for_port(stack)
            yield stack
        finally:
            for name in ("picker", "web"):
                if name in children:
                    _stop(children[name])
    shutil.rmtree(log_dir, ignore_errors=True)  # kept when the run failed: the error points to it


def _spawn(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            argv,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_port(stack: Stack) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not answers(stack.port):
        stack.check()
        if time.monotonic() > deadline:
            raise StackFailed(f"the web server did not listen within {START_TIMEOUT:g}s; see {stack.log_dir}")
        time.sleep(0.2)


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    try:
        child.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.wait()
