"""Trigram indexes for the admin's job search (PostgreSQL only; SQLite scans, fine at 100k).

The admin searches text inside the payload and the error message with
`UPPER(col::text) LIKE UPPER('%term%')` (Django's icontains); a GIN index over that same
expression with pg_trgm's operator class answers it without reading the table. pg_trgm is a
trusted extension (PostgreSQL 13+): the database owner may create it, no superuser needed.
Built CONCURRENTLY, so a large table stays writable while the index builds.
"""

from django.db import migrations

INDEXES = {
    "bg_jobs_payload_trgm_idx": "((UPPER(payload::text)) gin_trgm_ops)",
    "bg_jobs_error_trgm_idx": "((UPPER(error_message::text)) gin_trgm_ops)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:
            raise RuntimeError(
                "Could not create the pg_trgm extension, which the admin's job search index needs. "
                "Run `CREATE EXTENSION pg_trgm;` in this database as a superuser (or grant the "
                f"migrating role CREATE on the database), then migrate again. ({exc})"
            ) from exc
        for name, expression in INDEXES.items():
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON background_jobs USING gin {expression}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for name in INDEXES:
            cursor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("jobs", "0005_enqueue_notify_trigger")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
