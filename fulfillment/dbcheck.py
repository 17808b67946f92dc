"""Stop `make test` at once, with a way out, when no PostgreSQL answers at DATABASE_URL."""

import os
import sys

import dj_database_url
import psycopg


def main() -> int:
    url = os.environ.get("DATABASE_URL", "")
    settings = dj_database_url.parse(url)
    try:
        psycopg.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            user=settings["USER"] or "postgres",
            password=settings["PASSWORD"] or None,
            dbname="postgres",
            connect_timeout=3,
        ).close()
    except psycopg.OperationalError as exc:
        print(
            f"No PostgreSQL answers at {url}: {exc}\n"
            "Start the local one with:\n"
            "  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n"
            "or point DATABASE_URL at a running server (postgres://user@host:port/name).",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
