"""The operators' view of background jobs, workers and paused job types.

Every state change goes through jobs.services (cancel, retry, run now, pause, resume, the
bulk actions by filter); the columns the worker owns are read-only, a finished job is
read-only altogether, and status is never edited by hand. The job's own pages (create form,
action buttons, bulk confirmation) are in jobs/admin_job_pages.py.
"""

import json
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from hcm.admin_display import (
    EMPTY,
    SERVICE_WIDE,
    ConsoleAdminMixin,
    OrganizationFilter,
    admin_change_url,
    duration_label,
    exact_time,
    when,
)
from hcm.audit import audit_log
from hcm.permissions import is_platform_operator
from jobs.admin_filters import JobTypeFilter, OverdueFilter, RecentlyFinishedFilter, job_search_q
from jobs.admin_job_pages import (
    BULK_OPERATIONS,
    JobCreateForm,
    bulk_view,
    creatable_job_types,
    job_action_view,
    job_actions_available,
    job_can_be_deleted,
    job_create,
)
from jobs.models import FINISHED_STATUSES, BackgroundJob, JobAttempt, JobStatus, JobTypePause, WorkerHeartbeat
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
        return EMPTY
    return format_html("<pre class='console-pre'>{}</pre>", json.dumps(value, indent=2, sort_keys=True))


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
        "started",
        "finished",
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

    @admin.display(description="Started")
    def started(self, obj: JobAttempt) -> str:
        return obj.started_at.strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="Finished")
    def finished(self, obj: JobAttempt) -> str:
        return obj.finished_at.strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="Duration")
    def duration(self, obj: JobAttempt) -> str:
        return duration_label(obj.duration_ms)

    @admin.display(description="Traceback")
    def trace(self, obj: JobAttempt) -> SafeString | str:
        if not obj.traceback:
            return EMPTY
        # Wraps inside the page (console.css) instead of widening it.
        return format_html(
            "<details><summary>traceback</summary><pre class='console-pre traceback'>{}</pre></details>", obj.traceback
        )


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
class BackgroundJobAdmin(ConsoleAdminMixin, admin.ModelAdmin):
    form = BackgroundJobForm
    live_refresh_seconds = 5
    list_display = [
        "id",
        "job_type",
        "org",
        "status_badge",
        "priority_label",
        "progress_bar",
        "attempts_label",
        "created",
        "finished",
    ]
    list_filter = [
        "status",
        RecentlyFinishedFilter,
        OverdueFilter,
        JobTypeFilter,
        "priority",
        OrganizationFilter,
    ]
    list_select_related = ["organization"]
    # Exact id and key; text anywhere in the payload or the error (get_search_results). A
    # pasted id opens the job (ConsoleAdminMixin). No date drill-down: its SELECT DISTINCT
    # over every row costs seconds at a million jobs.
    search_fields = ["id"]  # shows the search box; the search itself is get_search_results
    search_help_text = "A job id or idempotency key (exact), or text in the payload or the error message."
    ordering = ["-created_at"]
    list_per_page = 50
    # "N of M" needs a COUNT(*) of the whole table: not worth it at a million rows.
    show_full_result_count = False
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
        "error_pre",
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
        "processed",
        "succeeded",
        "failed",
        "trigger",
        "trigger_id",
    ]
    fieldsets = [
        (None, {"fields": ["id", "organization", "job_type", "status_badge", "progress_bar"]}),
        ("Settings", {"fields": ["priority", "max_retries", "run_at", "idempotency_key"]}),
        ("Payload and result", {"fields": ["payload_pretty", "result_pretty", "error_pre"]}),
        ("Job log", {"fields": ["trigger", "trigger_id", "processed", "succeeded", "failed"]}),
        (
            "Worker",
            {"fields": ["attempt", "retry_count", "next_retry_at", "locked_by", "lease_expires_at"]},
        ),
        (
            "Audit",
            {"fields": ["created_at", "created_by", "started_at", "completed_at", "updated_at", "updated_by"]},
        ),
    ]
    add_fieldsets = [
        (
            None,
            {
                "fields": [
                    "job_type",
                    "organization",
                    "priority_name",
                    "payload",
                    "run_at",
                    "max_retries",
                    "idempotency_key",
                ]
            },
        ),
    ]

    @admin.display(description="Organization", ordering="organization__name")
    def org(self, obj: BackgroundJob) -> str:
        return obj.organization.name if obj.organization else SERVICE_WIDE

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: BackgroundJob) -> SafeString:
        return _badge(STATUS_COLORS.get(obj.status, "#6c757d"), obj.get_status_display())

    @admin.display(description="Priority", ordering="priority")
    def priority_label(self, obj: BackgroundJob) -> str:
        return obj.priority_name

    @admin.display(description="Progress", ordering="progress")
    def progress_bar(self, obj: BackgroundJob) -> SafeString:
        return format_html('<progress value="{}" max="100"></progress> {}%', obj.progress, obj.progress)

    @admin.display(description="Attempts / retries", ordering="attempt")
    def attempts_label(self, obj: BackgroundJob) -> SafeString:
        return format_html(
            '<span title="{} attempt(s); {} of {} retries used">{} / {} of {}</span>',
            obj.attempt,
            obj.retry_count,
            obj.max_retries,
            obj.attempt,
            obj.retry_count,
            obj.max_retries,
        )

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: BackgroundJob) -> SafeString | str:
        return when(obj.created_at)

    @admin.display(description="Finished", ordering="completed_at")
    def finished(self, obj: BackgroundJob) -> SafeString | str:
        return when(obj.completed_at)

    @admin.display(description="Payload")
    def payload_pretty(self, obj: BackgroundJob) -> SafeString | str:
        return _pretty_json(obj.payload)

    @admin.display(description="Result")
    def result_pretty(self, obj: BackgroundJob) -> SafeString | str:
        return _pretty_json(obj.result)

    @admin.display(description="Error message")
    def error_pre(self, obj: BackgroundJob) -> SafeString | str:
        if not obj.error_message:
            return EMPTY
        return format_html("<pre class='console-pre traceback'>{}</pre>", obj.error_message)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[BackgroundJob], search_term: str
    ) -> tuple[QuerySet[BackgroundJob], bool]:
        # Case-sensitive equality for id and key (the admin's "=field" is iexact, which no
        # index answers); every word must match somewhere, as in the admin's own search.
        for term in search_term.split():
            queryset = queryset.filter(job_search_q(term))
        return queryset, False

    # --- pages: create, read-only when finished, action buttons, bulk by filter -----------

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path(
                "bulk/<str:operation>/",
                view(lambda request, operation: bulk_view(self, request, operation)),
                name="jobs_backgroundjob_bulk",
            ),
            path(
                "<path:object_id>/do/<str:action>/",
                view(lambda request, object_id, action: job_action_view(self, request, object_id, action)),
                name="jobs_backgroundjob_action",
            ),
            *super().get_urls(),
        ]

    def get_fieldsets(self, request: HttpRequest, obj: BackgroundJob | None = None) -> list:
        return self.add_fieldsets if obj is None else self.fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: BackgroundJob | None = None) -> list[str]:
        return [] if obj is None else self.readonly_fields

    def get_inlines(self, request: HttpRequest, obj: BackgroundJob | None) -> list:
        return [] if obj is None else self.inlines

    def get_form(self, request: HttpRequest, obj: BackgroundJob | None = None, change: bool = False, **kwargs: Any):
        if obj is not None:
            return super().get_form(request, obj, change=change, **kwargs)
        form = super().get_form(request, obj, change=change, form=JobCreateForm, **kwargs)
        job_types = creatable_job_types(request)
        operator = is_platform_operator(request.user)

        class CreateForm(form):  # type: ignore[misc, valid-type]
            def __init__(self, *args: Any, **kw: Any) -> None:
                super().__init__(*args, job_types=job_types, platform_operator=operator, **kw)

        return CreateForm

    def has_change_permission(self, request: HttpRequest, obj: BackgroundJob | None = None) -> bool:
        # A finished job is a record: its fields are shown read-only (retry is a button).
        if obj is not None and obj.status in FINISHED_STATUSES:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: BackgroundJob | None = None) -> bool:
        if obj is not None and not job_can_be_deleted(obj):
            return False
        return super().has_delete_permission(request, obj)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: BackgroundJob | None = None,
    ) -> HttpResponse:
        job = context.get("original")
        if job is not None and not add:
            can_change = super().has_change_permission(request)
            context["job_actions"] = job_actions_available(job) if can_change else []
            context["job_can_delete"] = self.has_delete_permission(request, job)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        context = {
            **(extra_context or {}),
            "bulk_operations": [
                op
                for op in BULK_OPERATIONS.values()
                if (self.has_delete_permission if op.permission == "delete" else self.has_change_permission)(request)
            ],
        }
        return super().changelist_view(request, context)

    def save_model(self, request: HttpRequest, obj: BackgroundJob, form: forms.ModelForm, change: bool) -> None:
        if not change:
            # Queued through the service (payload schema, priority, idempotency key).
            assert isinstance(form, JobCreateForm)  # get_form gives the add view a JobCreateForm
            job, created = job_create(request, form)
            obj.pk = job.pk
            obj.refresh_from_db()
            if not created:
                self.message_user(
                    request, f"A job with this idempotency key exists already: {job.pk}.", messages.WARNING
                )
            return
        # Only the edited columns: a full save would write back the status, result and
        # lease the form loaded, over whatever the worker wrote since.
        obj.updated_by = request.user.get_username()
        obj.updated_at = timezone.now()
        obj.save(update_fields=[*form.changed_data, "updated_by", "updated_at"])

    def response_add(self, request: HttpRequest, obj: BackgroundJob, post_url_continue: str | None = None):
        # The new job's page, to watch it run (not the list, the admin's default).
        response = super().response_add(request, obj, post_url_continue)
        if "_addanother" not in request.POST and "_popup" not in request.POST:
            return HttpResponseRedirect(admin_change_url(obj))
        return response

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
class WorkerHeartbeatAdmin(ConsoleAdminMixin, admin.ModelAdmin):
    """Every worker process that has run, newest heartbeat first. Rows are the workers'."""

    live_refresh_seconds = 5
    # The worker id is host:pid:nonce, so host and pid are not columns of their own; a
    # stopped worker's stop time is on its state badge (hover).
    list_display = [
        "worker_id",
        "state",
        "concurrency",
        "job_types_label",
        "started",
        "last_heartbeat",
        "jobs_done",
        "jobs_failed",
    ]
    list_filter = ["hostname"]
    search_fields = ["worker_id", "hostname"]
    readonly_fields = ["stopped_at"]
    ordering = ["-last_seen_at"]

    @admin.display(description="State")
    def state(self, obj: WorkerHeartbeat) -> SafeString:
        if worker_is_alive(obj):
            return _badge("#198754", "alive")
        if obj.stopped_at is not None:
            return format_html(
                '<span title="stopped {}">{}</span>', exact_time(obj.stopped_at), _badge("#6c757d", "stopped")
            )
        return _badge("#dc3545", "stale")

    @admin.display(description="Started", ordering="started_at")
    def started(self, obj: WorkerHeartbeat) -> SafeString | str:
        return when(obj.started_at)

    @admin.display(description="Last heartbeat", ordering="last_seen_at")
    def last_heartbeat(self, obj: WorkerHeartbeat) -> SafeString | str:
        return when(obj.last_seen_at)

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
        return obj.organization.name if obj.organization else SERVICE_WIDE

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
