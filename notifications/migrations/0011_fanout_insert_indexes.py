"""Fewer indexes for a fan-out's inserts to keep up (issue 13): each foreign key's index
declared in Meta.indexes, without PostgreSQL's varchar_pattern_ops copy (`..._like`) that
db_index=True adds and no query uses (the admin's id search is icontains, which no btree
serves); the primary keys' `_like` copies dropped; digest-run and fallback indexes partial
(NULL in every new row); the organization's and user's single-column indexes dropped where
a composite index starts with the column.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# SQLite alters a field by making the table again, which drops its triggers: the stream's
# position trigger (migration 0005, as created there) is made again after the alterations,
# and again after they are undone.
SQLITE_STREAM_SEQ_TRIGGER = """CREATE TRIGGER IF NOT EXISTS notifications_stream_seq AFTER INSERT ON notifications
    FOR EACH ROW WHEN NEW.seq IS NULL
    BEGIN
        UPDATE notification_stream_counter SET value = value + 1 WHERE id = 1;
        UPDATE notifications SET seq = (SELECT value FROM notification_stream_counter WHERE id = 1)
        WHERE rowid = NEW.rowid;
    END"""


def sqlite_stream_seq_trigger(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(SQLITE_STREAM_SEQ_TRIGGER)


PK_LIKE_TABLES = [("notifications", "Notification"), ("notification_deliveries", "Delivery")]


def drop_pk_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for table, _ in PK_LIKE_TABLES:
        name = schema_editor._create_index_name(table, ["id"], suffix="_like")
        schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


def create_pk_like_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for _, model_name in PK_LIKE_TABLES:
        model = apps.get_model("notifications", model_name)
        schema_editor.execute(schema_editor._create_like_index_sql(model, model._meta.pk))


class Migration(migrations.Migration):
    dependencies = [
        ("hcm", "0005_metric_counters"),
        ("jobs", "0013_lists_stats_figures"),
        ("notifications", "0010_metrics_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, sqlite_stream_seq_trigger),
        migrations.AlterField(
            model_name="delivery",
            name="digest_run",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="notifications.digestrun",
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="job",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="jobs.backgroundjob",
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="notification",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="notifications.notification",
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notification_deliveries",
                to="hcm.organization",
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="replaces",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="replaced_by",
                to="notifications.delivery",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="digest_run",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="notifications",
                to="notifications.digestrun",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="organization",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notifications",
                to="hcm.organization",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="user",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="notifications",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(fields=["notification"], name="dlv_notification_idx"),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(fields=["job"], name="dlv_job_idx"),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("digest_run__isnull", False)), fields=["digest_run"], name="dlv_digest_run_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("replaces__isnull", False)), fields=["replaces"], name="dlv_replaces_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(fields=["organization"], name="ntf_org_idx"),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                condition=models.Q(("digest_run__isnull", False)), fields=["digest_run"], name="ntf_digest_run_idx"
            ),
        ),
        migrations.RunPython(sqlite_stream_seq_trigger, migrations.RunPython.noop),
        migrations.RunPython(drop_pk_like_indexes, create_pk_like_indexes),
    ]
