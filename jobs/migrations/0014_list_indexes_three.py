"""Three list indexes instead of seven (jobs.selectors.job_list_ranges serves every filter
combination from them), all ascending. Each index costs every enqueue a page write; the
five dropped ones cost a single-job enqueue on SQLite about a third of its time
(bench/enqueue_costs.py). A descending index puts each new job first in its range, where
SQLite rebalances three pages (instead of one) every time that first page fills: 2.1–2.4
pages written per enqueue for each descending list index, ~1 ascending (the list reads
the ascending ones backwards).

On PostgreSQL the new indexes are built, and the old ones dropped, CONCURRENTLY: enqueues
go on meanwhile.
"""

from django.db import migrations, models

ADDED = [
    models.Index(fields=["organization", "created_at", "id"], name="bg_jobs_org_created_idx"),
    models.Index(
        fields=["organization", "status", "priority", "created_at", "id", "job_type", "available_at"],
        name="bg_jobs_org_status_idx",
    ),
    models.Index(
        fields=["organization", "job_type", "status", "priority", "created_at", "id"], name="bg_jobs_org_type_idx"
    ),
    models.Index(fields=["created_at"], name="bg_jobs_created_at_idx"),
]
DROPPED = [
    models.Index(fields=["organization", "-created_at", "-id"], name="bg_jobs_org_list_idx"),
    models.Index(fields=["organization", "status", "-created_at", "-id"], name="bg_jobs_org_status_list_idx"),
    models.Index(fields=["organization", "job_type", "-created_at", "-id"], name="bg_jobs_org_type_list_idx"),
    models.Index(fields=["organization", "priority", "-created_at", "-id"], name="bg_jobs_org_priority_list_idx"),
    models.Index(
        fields=["organization", "job_type", "status", "-created_at", "-id", "priority"],
        name="bg_jobs_org_type_status_idx",
    ),
    models.Index(
        fields=["organization", "status", "priority", "-created_at", "-id", "job_type", "available_at"],
        name="bg_jobs_org_status_prio_idx",
    ),
    models.Index(
        fields=["organization", "job_type", "priority", "-created_at", "-id", "status"],
        name="bg_jobs_org_type_prio_idx",
    ),
    models.Index(models.F("created_at").desc(), name="bg_jobs_created_idx"),
]


def _swap(apps, schema_editor, *, create: list[models.Index], drop: list[models.Index]) -> None:
    model = apps.get_model("jobs", "BackgroundJob")
    options = {"concurrently": True} if schema_editor.connection.vendor == "postgresql" else {}
    for index in create:  # first, so that no list query is ever without its index
        schema_editor.execute(index.create_sql(model, schema_editor, **options))
    for index in drop:
        schema_editor.execute(index.remove_sql(model, schema_editor, **options))


def forwards(apps, schema_editor) -> None:
    _swap(apps, schema_editor, create=ADDED, drop=DROPPED)


def backwards(apps, schema_editor) -> None:
    _swap(apps, schema_editor, create=DROPPED, drop=ADDED)


class Migration(migrations.Migration):
    atomic = False  # CREATE / DROP INDEX CONCURRENTLY cannot run in a transaction

    dependencies = [
        ("hcm", "0005_metric_counters"),
        ("jobs", "0013_lists_stats_figures"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                *[migrations.RemoveIndex(model_name="backgroundjob", name=index.name) for index in DROPPED],
                *[migrations.AddIndex(model_name="backgroundjob", index=index) for index in ADDED],
            ],
            database_operations=[migrations.RunPython(forwards, backwards, elidable=False)],
        ),
    ]
