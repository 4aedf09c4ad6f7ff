"""Indexes every enqueue writes and no query needs (bench/enqueue_costs.py measures each).

- background_jobs.organization_id had its own index (a ForeignKey's default); every lookup
  by organization is served by bg_jobs_org_list_idx, which starts with it.
- PostgreSQL only: Django's `*_like` indexes (varchar_pattern_ops, for LIKE 'prefix%') on the
  id and on organization_id. Nothing searches either by prefix: the admin and the API look
  a job id up exactly (the primary key).

On PostgreSQL each index is dropped CONCURRENTLY, so enqueues go on meanwhile.
"""

from django.db import migrations, models

# Django's names for them (schema_editor._create_index_name), as migration 0001 made them.
DROPPED = {
    "background_jobs_organization_id_00a50805": ("(organization_id)", "any"),
    "background_jobs_organization_id_00a50805_like": ("(organization_id varchar_pattern_ops)", "postgresql"),
    "background_jobs_id_e7462b5b_like": ("(id varchar_pattern_ops)", "postgresql"),
}


def _applies(vendor: str, where: str) -> bool:
    return where == "any" or where == vendor


def drop(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    concurrently = "CONCURRENTLY " if vendor == "postgresql" else ""
    with schema_editor.connection.cursor() as cursor:
        for name, (_, where) in DROPPED.items():
            if _applies(vendor, where):
                cursor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


def create(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    concurrently = "CONCURRENTLY " if vendor == "postgresql" else ""
    with schema_editor.connection.cursor() as cursor:
        for name, (columns, where) in DROPPED.items():
            if _applies(vendor, where):
                cursor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} ON background_jobs {columns}")


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("hcm", "0005_metric_counters"),
        ("jobs", "0011_job_queue_name_request_id"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="backgroundjob",
                    name="organization",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=models.deletion.CASCADE,
                        related_name="background_jobs",
                        to="hcm.organization",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(drop, create, elidable=False)],
        ),
    ]
