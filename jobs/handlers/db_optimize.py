"""db_optimize: refresh the planner's statistics and reclaim free space in the database."""

import os
import time

from django.apps import apps
from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from jobs.context import JobContext
from jobs.errors import PermanentJobError
from jobs.registry import job_handler


@job_handler("db_optimize", scope="service", timeout=600, priority="low")
def db_optimize(ctx: JobContext) -> dict:
    """SQLite: ANALYZE each project table, PRAGMA optimize, VACUUM, checkpoint the WAL.
    PostgreSQL: VACUUM (ANALYZE) each project table.

    The project's tables are those of installed apps' models (with their many-to-many
    tables) plus the database cache tables. VACUUM cannot run inside a transaction, so the
    work runs on a connection of its own in autocommit mode.

    Result: `tables_analyzed`, `database_bytes_before` / `database_bytes_after` (SQLite:
    page_count × page_size plus the -wal file; PostgreSQL: pg_database_size; null with a
    `note` when not measurable), `database` (the vendor), `duration_ms`.
    """
    started = time.perf_counter()
    connection = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        connection.ensure_connection()
        if not connection.get_autocommit():
            raise PermanentJobError("db_optimize needs an autocommit connection (VACUUM cannot run in a transaction).")
        tables = project_tables(connection)
        if connection.vendor == "sqlite":
            result = _optimize_sqlite(ctx, connection, tables)
        elif connection.vendor == "postgresql":
            result = _optimize_postgresql(ctx, connection, tables)
        else:
            raise PermanentJobError(f"db_optimize supports SQLite and PostgreSQL, not {connection.vendor}.")
    finally:
        connection.close()
    result["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def project_tables(connection: BaseDatabaseWrapper) -> list[str]:
    """Tables of installed apps' models (managed, on this database) and database caches."""
    names = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy and router.allow_migrate_model(connection.alias, model)
    }
    for alias in settings.CACHES:
        cache = caches[alias]
        if isinstance(cache, DatabaseCache) and router.db_for_write(cache.cache_model_class) == connection.alias:
            names.add(cache._table)  # type: ignore[attr-defined]  # set by DatabaseCache.__init__
    with connection.cursor() as cursor:
        existing = set(connection.introspection.table_names(cursor))
    return sorted(names & existing)


def _optimize_sqlite(ctx: JobContext, connection: BaseDatabaseWrapper, tables: list[str]) -> dict:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        before = _sqlite_bytes(connection, cursor)
        for i, table in enumerate(tables):
            cursor.execute(f"ANALYZE {quote(table)}")
            ctx.set_progress(int(60 * (i + 1) / len(tables)))
        cursor.execute("PRAGMA optimize")
        ctx.set_progress(65)
        cursor.execute("VACUUM")
        ctx.set_progress(95)
        # VACUUM writes every page to the WAL; copy them back and empty the WAL so the
        # reclaimed space shows on disk (waits for readers through the busy timeout).
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after = _sqlite_bytes(connection, cursor)
    result = {
        "database": "sqlite",
        "tables_analyzed": len(tables),
        "database_bytes_before": before,
        "database_bytes_after": after,
    }
    if before is None:
        result["note"] = "An in-memory database has no size on disk."
    return result


def _sqlite_bytes(connection: BaseDatabaseWrapper, cursor) -> int | None:
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file::memory:"):
        return None
    cursor.execute("PRAGMA page_count")
    page_count = cursor.fetchone()[0]
    cursor.execute("PRAGMA page_size")
    page_size = cursor.fetchone()[0]
    try:
        wal = os.stat(f"{name}-wal").st_size
    except FileNotFoundError:
        wal = 0
    return page_count * page_size + wal


def _optimize_postgresql(ctx: JobContext, connection: BaseDatabaseWrapper, tables: list[str]) -> dict:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        before = _postgresql_bytes(cursor)
        for i, table in enumerate(tables):
            cursor.execute(f"VACUUM (ANALYZE) {quote(table)}")
            ctx.set_progress(int(95 * (i + 1) / len(tables)))
        after = _postgresql_bytes(cursor)
    return {
        "database": "postgresql",
        "tables_analyzed": len(tables),
        "database_bytes_before": before,
        "database_bytes_after": after,
    }


def _postgresql_bytes(cursor) -> int:
    cursor.execute("SELECT pg_database_size(current_database())")
    return int(cursor.fetchone()[0])
