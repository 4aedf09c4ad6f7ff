"""available_at becomes a stored generated column, max(run_at, next_retry_at), derived by
the database: a run_at or next_retry_at written any way now decides when a job is due.
A column cannot be altered into a generated one: drop it (and its index) and add it back."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0006_per_organization_pauses"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="backgroundjob", name="bg_jobs_due_idx"),
        migrations.RemoveField(model_name="backgroundjob", name="available_at"),
        migrations.AddField(
            model_name="backgroundjob",
            name="available_at",
            field=models.GeneratedField(
                db_persist=True,
                expression=models.Case(
                    models.When(next_retry_at__gt=models.F("run_at"), then=models.F("next_retry_at")),
                    default=models.F("run_at"),
                ),
                output_field=models.DateTimeField(),
            ),
        ),
        migrations.AddIndex(
            model_name="backgroundjob",
            index=models.Index(fields=["status", "available_at"], name="bg_jobs_due_idx"),
        ),
    ]
