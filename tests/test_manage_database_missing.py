"""A command pointed at a database that is not there says so in two lines, not a traceback."""

import os
import subprocess
import sys

from django.conf import settings


def _manage(database_url: str, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *command],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_database_that_does_not_exist_is_named_and_the_password_is_not():
    done = _manage("postgres://postgres:hunter2@127.0.0.1:5432/no_such_fulfillment_db", "check_invariants")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "The database could not be reached: " in done.stderr
    assert '"no_such_fulfillment_db" does not exist' in done.stderr
    assert "Check DATABASE_URL" in done.stderr
    assert "hunter2" not in done.stderr + done.stdout
