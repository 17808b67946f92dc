"""PostgreSQL and Redis servers of a run's own, to stop and start at will (`soak --faults infra`).

The machine's shared servers are never stopped by a proving tool: a run that needs an outage
starts its own, on a free loopback port, in a temporary directory removed at the end.
PostgreSQL is initialised and run as the `postgres` user when we are root (it refuses to run
as root), as ourselves otherwise.
"""

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class ServerError(RuntimeError):
    """A throwaway server could not be started or stopped."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _wait_until(condition, *, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise ServerError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.1)


class ThrowawayPostgres:
    """initdb, pg_ctl start and stop (any mode) on 127.0.0.1:<free port>; `remove()` deletes it."""

    def __init__(self, port: int | None = None):
        self.bin = _postgres_bin()
        self.port = port or free_port()
        self.root = Path(tempfile.mkdtemp(prefix="throwaway-postgres-"))
        self.data = self.root / "data"
        self.log_path = self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\nfsync = off\nmax_connections = 200\n"
            )

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "60", "start")
        _wait_until(lambda: answers(self.port), what=f"PostgreSQL on port {self.port}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def create_database(self, name: str) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)

    def remove(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(ServerError):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, cwd=self.root, timeout=120)
        if done.returncode:
            said = done.stderr.strip() or done.stdout.strip()
            raise ServerError(f"{program} failed ({done.returncode}): {said}")


class ThrowawayRedis:
    """redis-server on 127.0.0.1:<free port>, keeping nothing on disk; stop it and start it again."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        server = shutil.which("redis-server")
        if server is None:
            raise ServerError("redis-server is not installed")
        self.process = subprocess.Popen(
            [server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_until(lambda: answers(self.port), what=f"Redis on port {self.port}")

    def stop(self) -> None:
        """Gone at once, with nothing saved: what a crashed or restarted cache server does."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def remove(self) -> None:
        self.stop()


def postgres_installed() -> bool:
    try:
        _postgres_bin()
    except ServerError:
        return False
    return True


def _postgres_bin() -> Path:
    """The newest installed PostgreSQL's programs (Debian keeps them by major version), or PATH's."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb is None:
        raise ServerError("PostgreSQL's initdb was not found (/usr/lib/postgresql/*/bin or PATH)")
    return Path(initdb).parent
