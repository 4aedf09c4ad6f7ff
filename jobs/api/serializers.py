"""Input and output shapes of /api/system/background-jobs.

Output follows the seed's job representation (priority as "low" | "medium" | "high",
`organization_id`, `created_by`, …) plus the fields this service adds. Tracebacks are for
operators in the admin; the API shows the error message only.
"""

from typing import Any

from rest_framework import serializers

from hcm.exceptions import InvalidInput
from hcm.fields import ChoiceField, StrictSerializer
from jobs.models import DEFAULT_MAX_RETRIES, BackgroundJob, JobAttempt, JobPriority
from jobs.registry import ORGANIZATION, SERVICE, offered_job_type
from jobs.services import MAX_RETRIES_LIMIT

PRIORITY_NAMES = [p.label for p in JobPriority]
SCOPE_CHOICES = [ORGANIZATION, SERVICE]
SCOPE_HELP = (
    '"organization" (default when the type allows it): acts on your organization only; '
    '"service": acts on what all organizations share — platform operators only.'
)


class JobAttemptSerializer(serializers.ModelSerializer):
    """One entry of a job's event log, without the traceback."""

    class Meta:
        model = JobAttempt
        fields = ["attempt", "worker_id", "started_at", "finished_at", "duration_ms", "outcome", "error_message"]


class BackgroundJobSerializer(serializers.ModelSerializer):
    organization_id = serializers.CharField(read_only=True, allow_null=True)
    priority = serializers.CharField(source="priority_name", read_only=True)
    worker_id = serializers.CharField(source="locked_by", read_only=True, allow_null=True)

    class Meta:
        model = BackgroundJob
        fields = [
            "id",
            "organization_id",
            "job_type",
            "status",
            "priority",
            "payload",
            "result",
            "error_message",
            "progress",
            "retry_count",
            "max_retries",
            "next_retry_at",
            "run_at",
            "idempotency_key",
            "attempt",
            "worker_id",
            "lease_expires_at",
            "created_at",
            "created_by",
            "started_at",
            "completed_at",
            "updated_at",
            "updated_by",
            # The job log (seed 004): item counts of the last run and what triggered the job.
            "processed",
            "succeeded",
            "failed",
            "trigger",
            "trigger_id",
        ]
        read_only_fields = fields


class BackgroundJobDetailSerializer(BackgroundJobSerializer):
    """GET /{id}: the job and its event log."""

    attempts = JobAttemptSerializer(many=True, read_only=True)

    class Meta(BackgroundJobSerializer.Meta):
        fields = [*BackgroundJobSerializer.Meta.fields, "attempts"]
        read_only_fields = fields


class BackgroundJobCreateSerializer(StrictSerializer):
    """POST body. Every bad field is reported at once: the shape here, then the job type
    (offered types only), its scope and the payload by the type's own schema."""

    job_type = serializers.CharField(max_length=100)
    # Seed 000: a job posted without a priority is medium. A job type's own default applies
    # only to jobs the system enqueues (schedules, notifications, maintenance).
    priority = ChoiceField(PRIORITY_NAMES, required=False, default="medium")
    payload = serializers.JSONField(required=False, allow_null=True, default=dict)
    max_retries = serializers.IntegerField(min_value=0, max_value=MAX_RETRIES_LIMIT, default=DEFAULT_MAX_RETRIES)
    run_at = serializers.DateTimeField(required=False, allow_null=True, help_text="ISO 8601; not before this time.")
    idempotency_key = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=200)
    scope = ChoiceField(SCOPE_CHOICES, required=False, help_text=SCOPE_HELP)

    def to_internal_value(self, data: Any) -> dict:
        errors: dict[str, Any] = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail
            errors, value = (dict(detail) if isinstance(detail, dict) else {"non_field_errors": detail}), {}
        if isinstance(data, dict) and "job_type" not in errors and "job_type" in data:
            try:
                spec = offered_job_type(data["job_type"])
                scope = value.get("scope") or spec.default_scope
                if not spec.allows(scope):
                    raise InvalidInput({"scope": [f"{spec.name} runs in scope {spec.default_scope!r} only."]})
                value["scope"] = scope
                if "payload" not in errors:
                    value["payload"] = spec.validate_payload(data.get("payload"), scope=scope)
            except InvalidInput as exc:
                errors.update(exc.errors)
        if errors:
            raise serializers.ValidationError(errors)
        return value


class JobTypeActionSerializer(StrictSerializer):
    """Body of /pause and /resume."""

    job_type = serializers.CharField(max_length=100)
    scope = ChoiceField(
        SCOPE_CHOICES,
        required=False,
        help_text='"organization" (default): your organization\'s jobs of this type; "service": every '
        "organization's (platform operators only; the default for service-scope types).",
    )

    def validate(self, attrs: dict) -> dict:
        try:
            spec = offered_job_type(attrs["job_type"])
        except InvalidInput as exc:
            raise serializers.ValidationError(exc.errors) from None
        attrs["scope"] = attrs.get("scope") or spec.default_scope
        if not spec.allows(attrs["scope"]):
            raise serializers.ValidationError({"scope": [f"{spec.name} runs in scope {spec.default_scope!r} only."]})
        return attrs


class PausedStateSerializer(serializers.Serializer):
    job_type = serializers.CharField()
    scope = serializers.CharField(help_text='"organization": yours only; "service": every organization\'s.')
    paused = serializers.BooleanField()
    paused_at = serializers.DateTimeField(allow_null=True)
    paused_by = serializers.CharField(allow_null=True)


# --- GET /stats (the shape job_stats returns) ----------------------------------------------


class StatusCountsSerializer(serializers.Serializer):
    queued = serializers.IntegerField()
    processing = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    cancelled = serializers.IntegerField()


class JobTypeCountsSerializer(StatusCountsSerializer):
    total = serializers.IntegerField()


class QueueStatsSerializer(serializers.Serializer):
    depth = serializers.IntegerField(help_text="Queued jobs, due or not.")
    due = serializers.IntegerField(help_text="Queued, past run_at / next_retry_at, type not paused.")
    scheduled = serializers.IntegerField(help_text="Queued for later (run_at or a retry wait).")
    paused = serializers.IntegerField(help_text="Queued jobs of paused job types.")
    processing = serializers.IntegerField()
    oldest_due_age_seconds = serializers.FloatField(
        allow_null=True, help_text="How long the oldest due job has waited."
    )


class RunSummarySerializer(serializers.Serializer):
    runs = serializers.IntegerField(help_text="Attempts finished in the window.")
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField(help_text="Failed, timed out, cancelled while running or lost.")
    success_rate = serializers.FloatField(help_text="succeeded / runs, 0–1.")
    mean_duration_ms = serializers.FloatField()
    p95_duration_ms = serializers.FloatField(
        help_text="The upper edge of the duration bucket (buckets 2^(1/4) apart) that holds the nearest-rank "
        "95th percentile: never below it, at most 19 % above."
    )


class RecentRunsSerializer(serializers.Serializer):
    since = serializers.DateTimeField(help_text="Seven days before the start of the current hour.")
    by_job_type = serializers.DictField(child=RunSummarySerializer())


class WorkerSerializer(serializers.Serializer):
    worker_id = serializers.CharField()
    hostname = serializers.CharField()
    pid = serializers.IntegerField()
    concurrency = serializers.IntegerField()
    job_types = serializers.ListField(child=serializers.CharField(), allow_null=True, help_text="Null: every type.")
    started_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(help_text="Last heartbeat.")
    stopped_at = serializers.DateTimeField(allow_null=True)
    jobs_done = serializers.IntegerField()
    jobs_failed = serializers.IntegerField()
    alive = serializers.BooleanField(help_text="Not stopped, and heard from within two lease periods.")


class PausedJobTypeSerializer(serializers.Serializer):
    job_type = serializers.CharField()
    scope = serializers.CharField(help_text='"organization": paused for your organization; "service": for every one.')
    paused_at = serializers.DateTimeField()
    paused_by = serializers.CharField()


class JobStatsSerializer(serializers.Serializer):
    """Job figures are the caller's organization's; workers are service-wide; paused types
    are those holding the organization's jobs (its own pauses and the service-wide ones)."""

    generated_at = serializers.DateTimeField()
    total = serializers.IntegerField()
    by_status = StatusCountsSerializer()
    by_job_type = serializers.DictField(child=JobTypeCountsSerializer())
    queue = QueueStatsSerializer()
    last_7_days = RecentRunsSerializer()
    workers = WorkerSerializer(many=True)
    paused_job_types = PausedJobTypeSerializer(many=True)
