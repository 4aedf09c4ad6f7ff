"""Input and output shapes of /api/system/job-schedules.

The shapes only: job type, payload, cron expression and timezone are checked by
jobs.schedules.job_schedule_validate, the one place those rules live.
"""

from rest_framework import serializers

from hcm.fields import ChoiceField, StrictSerializer
from jobs.api.serializers import SCOPE_CHOICES
from jobs.models import JobPriority, JobSchedule

PRIORITY_NAMES = [p.label for p in JobPriority]


class JobScheduleSerializer(serializers.ModelSerializer):
    organization_id = serializers.CharField(read_only=True, allow_null=True)
    scope = serializers.SerializerMethodField(
        help_text='"organization": yours; "service": service-wide maintenance, which only platform operators '
        "may create or change (here or in the admin)."
    )
    priority = serializers.CharField(
        source="priority_name", read_only=True, allow_null=True, help_text="null: the job type's default."
    )

    class Meta:
        model = JobSchedule
        fields = [
            "id",
            "name",
            "organization_id",
            "scope",
            "job_type",
            "payload",
            "priority",
            "cron_expression",
            "timezone",
            "enabled",
            "last_run_at",
            "last_job_id",
            "next_run_at",
            "created_at",
            "created_by",
            "updated_at",
            "updated_by",
        ]
        read_only_fields = fields

    def get_scope(self, schedule: JobSchedule) -> str:
        return "service" if schedule.organization_id is None else "organization"


class JobScheduleInputSerializer(StrictSerializer):
    """POST and PUT body (PATCH: any subset of it)."""

    name = serializers.CharField(max_length=100)
    job_type = serializers.CharField(max_length=100)
    cron_expression = serializers.CharField(
        max_length=100,
        help_text="Five fields (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, "
        "@monthly, @yearly; read in `timezone`.",
    )
    timezone = serializers.CharField(max_length=64, default="UTC", help_text="IANA name, e.g. Europe/Berlin.")
    payload = serializers.JSONField(default=dict, help_text="Checked against the job type's payload schema.")
    priority = ChoiceField(PRIORITY_NAMES, allow_null=True, default=None, help_text="null: the job type's default.")
    enabled = serializers.BooleanField(default=True)
    scope = ChoiceField(
        SCOPE_CHOICES,
        required=False,
        help_text='Create only. "organization" (default when the type allows it): runs for your organization; '
        '"service": service-wide (platform operators only).',
    )
