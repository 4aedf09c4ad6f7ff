"""Pauses become per organization (or service-wide): background_job_pauses replaces
background_job_paused_types; every existing pause carries over as a service-wide one."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


def carry_over_pauses(apps, schema_editor) -> None:
    old, new = apps.get_model("jobs", "PausedJobType"), apps.get_model("jobs", "JobTypePause")
    new.objects.bulk_create(
        [
            new(job_type=p.job_type, organization=None, paused_at=p.paused_at, paused_by=p.paused_by)
            for p in old.objects.all()
        ]
    )


def restore_pauses(apps, schema_editor) -> None:
    old, new = apps.get_model("jobs", "PausedJobType"), apps.get_model("jobs", "JobTypePause")
    for p in new.objects.filter(organization__isnull=True):
        old.objects.get_or_create(job_type=p.job_type, defaults={"paused_at": p.paused_at, "paused_by": p.paused_by})


class Migration(migrations.Migration):
    dependencies = [
        ("hcm", "0003_operate_platform_permission"),
        ("jobs", "0005_enqueue_notify_trigger"),
    ]

    operations = [
        migrations.CreateModel(
            name="JobTypePause",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("job_type", models.CharField(max_length=100)),
                ("paused_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("paused_by", models.CharField(default="system", max_length=150)),
                (
                    "organization",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="job_type_pauses",
                        to="hcm.organization",
                    ),
                ),
            ],
            options={
                "db_table": "background_job_pauses",
                "ordering": ["job_type", "organization"],
            },
        ),
        migrations.RunPython(carry_over_pauses, restore_pauses),
        migrations.DeleteModel(
            name="PausedJobType",
        ),
        migrations.AddIndex(
            model_name="jobtypepause",
            index=models.Index(fields=["job_type", "organization"], name="bg_pauses_type_org_idx"),
        ),
        migrations.AddConstraint(
            model_name="jobtypepause",
            constraint=models.UniqueConstraint(fields=("organization", "job_type"), name="bg_pauses_org_type_uniq"),
        ),
        migrations.AddConstraint(
            model_name="jobtypepause",
            constraint=models.UniqueConstraint(
                condition=models.Q(("organization__isnull", True)),
                fields=("job_type",),
                name="bg_pauses_service_type_uniq",
            ),
        ),
    ]
