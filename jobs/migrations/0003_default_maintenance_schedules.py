"""The service-wide maintenance schedules every installation starts with.

They are created without a next_run_at: the first worker to see one sets it to the next
tick (nothing runs at migrate time). Operators change or disable them in the admin. A
schedule whose job type no worker registers is skipped with a warning, not an error.
"""

from django.db import migrations

DEFAULTS = [
    # name / job type, cron (UTC), payload
    ("cleanup", "0 3 * * *", {"type": "all"}),  # daily at 03:00
    ("log_rotate", "0 0 * * *", {}),  # daily at midnight
    ("db_optimize", "0 4 * * 0", {}),  # weekly, Sunday 04:00
    ("notification_digest", "0 * * * *", {}),  # hourly
]


def create_defaults(apps, schema_editor):
    JobSchedule = apps.get_model("jobs", "JobSchedule")
    for name, cron, payload in DEFAULTS:
        if JobSchedule.objects.filter(organization__isnull=True, name=name).exists():
            continue
        JobSchedule.objects.create(
            name=name,
            organization=None,
            job_type=name,
            payload=payload,
            cron_expression=cron,
            timezone="UTC",
            enabled=True,
            next_run_at=None,
            created_by="migration",
            updated_by="migration",
        )


def delete_defaults(apps, schema_editor):
    JobSchedule = apps.get_model("jobs", "JobSchedule")
    JobSchedule.objects.filter(
        organization__isnull=True, name__in=[name for name, _, _ in DEFAULTS], created_by="migration"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0002_job_schedules"),
    ]

    operations = [
        migrations.RunPython(create_defaults, delete_defaults),
    ]
