"""Indexes for the admin's job list at a million rows.

- Text search: the admin searches the payload and the error message with
  `UPPER(col::text) LIKE UPPER('%term%')` (Django's icontains); on PostgreSQL a GIN index
  over that same expression with pg_trgm's operator class answers it without reading the
  table. pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create
  it, no superuser needed. SQLite has no trigram index: it scans (fine at 100,000 jobs).
- The list's default order (newest first) and the exact idempotency-key search: plain
  b-tree indexes, also on SQLite (they are in BackgroundJob.Meta.indexes).

On PostgreSQL every index is built CONCURRENTLY, so a large table stays writable meanwhile.
"""

from django.db import migrations, models

TRIGRAM = {
    "bg_jobs_payload_trgm_idx": "USING gin ((UPPER(payload::text)) gin_trgm_ops)",
    "bg_jobs_error_trgm_idx": "USING gin ((UPPER(error_message::text)) gin_trgm_ops)",
}
BTREE = {
    "bg_jobs_created_idx": "(created_at DESC)",
    "bg_jobs_idempotency_key_idx": "(idempotency_key) WHERE idempotency_key IS NOT NULL",
}


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    concurrently = "CONCURRENTLY " if postgres else ""
    with schema_editor.connection.cursor() as cursor:
        for name, spec in BTREE.items():
            cursor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON background_jobs {spec}")
        if not postgres:
            return
        try:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:
            raise RuntimeError(
                "Could not create the pg_trgm extension, which the admin's job search index needs. "
                "Run `CREATE EXTENSION pg_trgm;` in this database as a superuser (or grant the "
                f"migrating role CREATE on the database), then migrate again. ({exc})"
            ) from exc
        for name, spec in TRIGRAM.items():
            cursor.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON background_jobs {spec}")


def drop(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    with schema_editor.connection.cursor() as cursor:
        for name in [*BTREE, *(TRIGRAM if postgres else [])]:
            cursor.execute(f"DROP INDEX {'CONCURRENTLY ' if postgres else ''}IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [("jobs", "0007_list_indexes")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="backgroundjob",
                    index=models.Index(models.F("created_at").desc(), name="bg_jobs_created_idx"),
                ),
                migrations.AddIndex(
                    model_name="backgroundjob",
                    index=models.Index(
                        fields=["idempotency_key"],
                        name="bg_jobs_idempotency_key_idx",
                        condition=models.Q(idempotency_key__isnull=False),
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(create, drop, elidable=False)],
        ),
    ]
