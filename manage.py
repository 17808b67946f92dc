#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fulfillment.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        # A database that is not there (a typo in DATABASE_URL, a server that is down, a database
        # never created) is a setting to fix, not a traceback to read. The message names the
        # host, port and database, never the password.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        sys.stderr.write(
            f"The database could not be reached: {first_line}\n"
            "Check DATABASE_URL; create the database and run `manage.py migrate` if it is new.\n"
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
