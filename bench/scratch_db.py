"""A scratch database for a one-process bench script: made empty, migrated, Django set up
on it (one plain connection, as a script holds it), dropped at the end.

SQLite: var/bench/<name>.sqlite3; PostgreSQL: bench_<name>[_$BENCH_DB_SUFFIX] on
127.0.0.1:5432 (user postgres), so that runs side by side do not drop each other's.
"""

import os
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
WORK_DIR = PROJECT_DIR / "var" / "bench"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _pg_name(name: str) -> str:
    suffix = f"_{os.environ['BENCH_DB_SUFFIX']}" if os.environ.get("BENCH_DB_SUFFIX") else ""
    return f"bench_{name}{suffix}"


def setup(name: str, db: str) -> None:
    """Make the scratch database `name` on `db` ("sqlite" or "postgres"), migrate it and
    set Django up on it (bench/ on sys.path too, for tasksdb_project's no-op @task)."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    if db == "sqlite":
        path = WORK_DIR / f"{name}.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{path}"
    else:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {_pg_name(name)} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {_pg_name(name)}")
        url = f"postgres://postgres@127.0.0.1:5432/{_pg_name(name)}"
    os.environ.update(DATABASE_URL=url, SECRET_KEY="bench-only-not-secret", LOG_LEVEL="WARNING")
    os.environ.pop("TEST_DATABASE_NAME", None)
    os.environ["DB_POOL_MAX_SIZE"] = "0"  # one plain connection, as a script holds it
    os.environ["CONN_MAX_AGE"] = "600"
    sys.path.insert(0, str(PROJECT_DIR))
    sys.path.insert(0, str(BENCH_DIR))
    os.environ["DJANGO_SETTINGS_MODULE"] = "hcm.settings"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def teardown(name: str, db: str) -> None:
    """Drop the PostgreSQL scratch database (SQLite's file stays, for a look afterwards)."""
    if db == "postgres":
        import psycopg
        from django.db import connection

        connection.close()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {_pg_name(name)} WITH (FORCE)")
