"""`make serve` listens where the README says, http://127.0.0.1:8000, unless told otherwise.

The Makefile's own serve command (as `make -n` prints it) is run with the real honcho in a
scratch directory whose Procfile's web process prints the address gunicorn.conf.py resolves
and the PORT honcho handed it; the worker only waits. Nothing connects to a database or Redis.
"""

import os
import re
import runpy
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

REPO = Path(settings.BASE_DIR)
HONCHO = Path(sys.executable).parent / "honcho"
RESOLVED = re.compile(r"web\.1\s*\| bind=(\S+) PORT=(\S+)")


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A copy of the Makefile beside a Procfile whose web process reports its bind, and a venv
    stamp newer than pyproject.toml, so `make serve` would not install anything."""
    shutil.copy(REPO / "Makefile", tmp_path / "Makefile")
    report = (
        "import os, runpy; "
        "print('bind=' + runpy.run_path('gunicorn.conf.py')['bind'], 'PORT=' + os.environ['PORT'])"
    )
    (tmp_path / "Procfile").write_text(
        f'web: cd {REPO} && {sys.executable} -c "{report}"\nworker: sleep 30\n'
    )
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "honcho").symlink_to(HONCHO)
    (tmp_path / ".venv" / ".installed").touch()
    return tmp_path


def make_environment(**overrides: str) -> dict[str, str]:
    """This process's environment without anything that would steer make, honcho or gunicorn."""
    steering = {"MAKEFLAGS", "MAKELEVEL", "MFLAGS", "GUNICORN_BIND", "SERVE_BIND", "PORT"}
    env = {key: value for key, value in os.environ.items() if key not in steering}
    return {**env, "SECRET_KEY": "x" * 50, **overrides}


def served_at(scratch: Path, **env: str) -> tuple[str, str]:
    """Run the honcho command of `make serve`; returns (gunicorn's bind, honcho's PORT)."""
    plan = subprocess.run(
        ["make", "-n", "serve"], cwd=scratch, env=make_environment(**env), capture_output=True, text=True
    )
    assert plan.returncode == 0, plan.stderr
    (honcho_line,) = [line for line in plan.stdout.splitlines() if "honcho start" in line]
    run = subprocess.run(
        ["sh", "-c", honcho_line],
        cwd=scratch,
        env=make_environment(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    found = RESOLVED.search(run.stdout)
    assert found, run.stdout + run.stderr
    return found.group(1), found.group(2)


def test_make_serve_listens_on_loopback_port_8000(scratch):
    """honcho alone would give the web process PORT=5000 and gunicorn would bind 0.0.0.0:5000."""
    assert served_at(scratch) == ("127.0.0.1:8000", "8000")


def test_make_serve_listens_where_gunicorn_bind_says(scratch):
    assert served_at(scratch, GUNICORN_BIND="0.0.0.0:9000") == ("0.0.0.0:9000", "9000")


@pytest.mark.parametrize("bind", ["unix:/tmp/web.sock", "127.0.0.1", "127.0.0.1:80x"])
def test_a_bind_that_is_not_host_and_port_is_refused_first(scratch, bind):
    """Refused before the database check and the release step run."""
    result = subprocess.run(
        ["make", "serve"],
        cwd=scratch,
        env=make_environment(GUNICORN_BIND=bind),
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert f"make serve: GUNICORN_BIND='{bind}' is not HOST:PORT" in result.stdout
    assert "dbcheck" not in result.stdout + result.stderr


def test_platforms_that_set_port_get_every_interface(monkeypatch):
    """Heroku and Dokku set PORT and route to it from outside: gunicorn.conf.py's default."""
    monkeypatch.delenv("GUNICORN_BIND", raising=False)
    monkeypatch.setenv("PORT", "5123")
    assert runpy.run_path(str(REPO / "gunicorn.conf.py"))["bind"] == "0.0.0.0:5123"
