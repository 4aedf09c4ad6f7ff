"""The operators' view of background jobs, workers and paused job types.

Every state change goes through jobs.services (cancel, retry, run now, pause, resume); the
columns the worker owns are read-only, and status is never edited by hand.
"""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from hcm.audit import audit_log
from hcm.permissions import is_platform_operator
from jobs.models import BackgroundJob, JobAttempt, JobStatus, JobTypePause, WorkerHeartbeat
from jobs.registry import get_job_type, job_type_names
from jobs.selectors import worker_is_alive
from jobs.services import JobStateError, job_cancel, job_retry, job_run_now, job_type_pause, job_type_resume

STATUS_COLORS: dict[str, str] = {
    JobStatus.QUEUED: "#6c757d",
    JobStatus.PROCESSING: "#0d6efd",
    JobStatus.COMPLETED: "#198754",
    JobStatus.FAILED: "#dc3545",
    JobStatus.CANCELLED: "#b58105",
}
BADGE = '<span style="background:{};color:#fff;border-radius:8px;padding:1px 8px;white-space:nowrap">{}</span>'


def _badge(color: str, text: str) -> SafeString:
    return format_html(BADGE, color, text)


def _pretty_json(value: Any) -> SafeString | str:
    if value is None:
        return "—"
    return format_html(
        "<pre style='margin:0;white-space:pre-wrap'>{}</pre>", json.dumps(value, indent=2, sort_keys=True)
    )


class JobAttemptInline(admin.TabularInline):
    """The job's event log: one row per finished attempt, written by the worker."""

    model = JobAttempt
    verbose_name_plural = "Event log (one row per attempt)"
    extra = 0
    can_delete = False
    readonly_fields = [
        "attempt",
        "outcome",
        "worker_id",
        "started_at",
        "finished_at",
        "duration",
        "error_message",
        "trace",
    ]
    fields = list(readonly_fields)
    ordering = ["attempt", "id"]

    def has_add_permission(self, request: HttpRequest, obj: BackgroundJob | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: BackgroundJob | None = None) -> bool:
        return False

    @admin.display(description="Duration")
    def duration(self, obj: JobAttempt) -> str:
        return f"{obj.duration_ms:.1f} ms"

    @admin.display(description="Traceback")
    def trace(self, obj: JobAttempt) -> SafeString | str:
        if not obj.traceback:
            return "—"
        return format_html("<details><summary>traceback</summary><pre>{}</pre></details>", obj.traceback)


class BackgroundJobForm(forms.ModelForm):
    class Meta:
        model = BackgroundJob
        fields = ["priority", "max_retries"]


def _run_service(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[BackgroundJob],
    service: Callable[..., BackgroundJob],
    done: str,
) -> None:
    """Apply `service` to each selected job; report how many it applied to and which it could not."""
    ok, refused = 0, []
    for job in queryset:
        try:
            service(job=job, by=request.user.get_username())
            ok += 1
            audit_log(request, job, f"Admin action: {done}.")
        except JobStateError as exc:
            refused.append(str(exc))
    if ok:
        modeladmin.message_user(request, f"{ok} job(s) {done}.", messages.SUCCESS)
    if refused:
        shown = " ".join(refused[:5]) + (f" (and {len(refused) - 5} more)" if len(refused) > 5 else "")
        modeladmin.message_user(request, f"{len(refused)} job(s) not {done}: {shown}", messages.ERROR)


@admin.register(BackgroundJob)
class BackgroundJobAdmin(admin.ModelAdmin):
    form = BackgroundJobForm
    list_display = [
        "id",
        "job_type",
        "organization",
        "status_badge",
        "priority_label",
        "progress_bar",
        "attempt",
        "retry_count",
        "created_at",
        "completed_at",
    ]
    list_filter = ["status", "job_type", "priority", "organization"]
    list_select_related = ["organization"]
    search_fields = ["=id", "=idempotency_key"]
    search_help_text = "Job id (job_…) or idempotency key, exactly."
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    list_per_page = 50
    inlines = [JobAttemptInline]
    actions = ["cancel_jobs", "retry_jobs", "run_jobs_now"]
    readonly_fields = [
        "id",
        "organization",
        "job_type",
        "status_badge",
        "progress_bar",
        "payload_pretty",
        "result_pretty",
        "error_message",
        "retry_count",
        "next_retry_at",
        "run_at",
        "idempotency_key",
        "attempt",
        "locked_by",
        "lease_expires_at",
        "created_at",
        "created_by",
        "started_at",
        "completed_at",
        "updated_at",
        "updated_by",
    ]
    fieldsets = [
        (None, {"fields": ["id", "organization", "job_type", "status_badge", "progress_bar"]}),
        ("Settings", {"fields": ["priority", "max_retries", "run_at", "idempotency_key"]}),
        ("Payload and result", {"fields": ["payload_pretty", "result_pretty", "error_message"]}),
        (
            "Worker",
            {"fields": ["attempt", "retry_count", "next_retry_at", "locked_by", "lease_expires_at"]},
        ),
        (
            "Audit",
            {"fields": ["created_at", "created_by", "started_at", "completed_at", "updated_at", "updated_by"]},
        ),
    ]

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: BackgroundJob) -> SafeString:
        return _badge(STATUS_COLORS.get(obj.status, "#6c757d"), obj.get_status_display())

    @admin.display(description="Priority", ordering="priority")
    def priority_label(self, obj: BackgroundJob) -> str:
        return obj.priority_name

    @admin.display(description="Progress", ordering="progress")
    def progress_bar(self, obj: BackgroundJob) -> SafeString:
        return format_html(
            '<progress value="{}" max="100" style="width:80px"></progress> {}%', obj.progress, obj.progress
        )

    @admin.display(description="Payload")
    def payload_pretty(self, obj: BackgroundJob) -> SafeString | str:
        return _pretty_json(obj.payload)

    @admin.display(description="Result")
    def result_pretty(self, obj: BackgroundJob) -> SafeString | str:
        return _pretty_json(obj.result)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Jobs are enqueued through the API or jobs.services, which validate the payload.
        return False

    def save_model(self, request: HttpRequest, obj: BackgroundJob, form: forms.ModelForm, change: bool) -> None:
        # Only the edited columns: a full save would write back the status, result and
        # lease the form loaded, over whatever the worker wrote since.
        obj.updated_by = request.user.get_username()
        obj.updated_at = timezone.now()
        obj.save(update_fields=[*form.changed_data, "updated_by", "updated_at"])

    @admin.action(description="Cancel selected jobs", permissions=["change"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[BackgroundJob]) -> None:
        _run_service(self, request, queryset, job_cancel, "cancelled")

    @admin.action(description="Retry selected jobs (failed or cancelled)", permissions=["change"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[BackgroundJob]) -> None:
        _run_service(self, request, queryset, job_retry, "queued again")

    @admin.action(description="Run selected queued jobs now", permissions=["change"])
    def run_jobs_now(self, request: HttpRequest, queryset: QuerySet[BackgroundJob]) -> None:
        _run_service(self, request, queryset, job_run_now, "made due now")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    """Every worker process that has run, newest heartbeat first. Rows are the workers'."""

    list_display = [
        "worker_id",
        "state",
        "hostname",
        "pid",
        "concurrency",
        "job_types_label",
        "started_at",
        "last_seen_at",
        "stopped_at",
        "jobs_done",
        "jobs_failed",
    ]
    list_filter = ["hostname"]
    search_fields = ["worker_id", "hostname"]
    ordering = ["-last_seen_at"]

    @admin.display(description="State")
    def state(self, obj: WorkerHeartbeat) -> SafeString:
        if worker_is_alive(obj):
            return _badge("#198754", "alive")
        if obj.stopped_at is not None:
            return _badge("#6c757d", "stopped")
        return _badge("#dc3545", "stale")

    @admin.display(description="Job types")
    def job_types_label(self, obj: WorkerHeartbeat) -> str:
        return ", ".join(obj.job_types) if obj.job_types else "all"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WorkerHeartbeat | None = None) -> bool:
        return False


class JobTypePauseForm(forms.ModelForm):
    job_type = forms.ChoiceField(choices=[])

    class Meta:
        model = JobTypePause
        fields = ["job_type", "organization"]
        help_texts = {"organization": "Empty: every organization (service-wide)."}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        job_type = self.fields["job_type"]
        assert isinstance(job_type, forms.ChoiceField)  # declared above
        job_type.choices = [(name, name) for name in job_type_names()]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        org = data.get("organization")
        if JobTypePause.objects.filter(job_type=data.get("job_type"), organization=org).exists():
            raise forms.ValidationError("This job type is already paused there.")
        return data


@admin.register(JobTypePause)
class JobTypePauseAdmin(admin.ModelAdmin):
    """Adding a row pauses a job type (for one organization, or service-wide); deleting it
    resumes the type (through jobs.services). A service-wide pause is a platform
    operator's action."""

    form = JobTypePauseForm
    list_display = ["job_type", "scope_label", "paused_at", "paused_by"]
    list_filter = ["job_type"]
    ordering = ["job_type"]

    @admin.display(description="Scope")
    def scope_label(self, obj: JobTypePause) -> str:
        return obj.organization.name if obj.organization else "Service-wide"

    def has_change_permission(self, request: HttpRequest, obj: JobTypePause | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: JobTypePause | None = None) -> bool:
        if obj is not None and obj.organization_id is None and not is_platform_operator(request.user):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: JobTypePause, form: forms.ModelForm, change: bool) -> None:
        if obj.organization_id is None and not is_platform_operator(request.user):
            raise PermissionDenied("A service-wide pause is a platform operator's action.")
        paused = job_type_pause(job_type=obj.job_type, organization=obj.organization, by=request.user.get_username())
        obj.pk, obj.paused_at, obj.paused_by = paused.pk, paused.paused_at, paused.paused_by

    def delete_model(self, request: HttpRequest, obj: JobTypePause) -> None:
        self._resume(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[JobTypePause]) -> None:
        for paused in queryset:
            self._resume(request, paused)

    def _resume(self, request: HttpRequest, paused: JobTypePause) -> None:
        if get_job_type(paused.job_type) is None:
            paused.delete()  # a type no longer registered: nothing to wake, just forget it
            return
        job_type_resume(job_type=paused.job_type, organization=paused.organization, by=request.user.get_username())


from jobs import admin_schedules  # noqa: E402, F401 -- registers JobScheduleAdmin
