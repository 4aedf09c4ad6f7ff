"""The job admin's own pages: the create form, a job's action buttons (each behind a
confirmation page), and bulk actions by filter (a confirmation page stating the count).

Every write goes through jobs.services and is recorded in the audit log (hcm/audit.py).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.contrib.admin.widgets import AdminSplitDateTime
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from hcm.audit import audit_log, audit_log_rows
from hcm.exceptions import InvalidInput
from hcm.permissions import is_platform_operator
from jobs.models import FINISHED_STATUSES, BackgroundJob, JobPriority, JobStatus
from jobs.registry import ORGANIZATION, get_job_type, job_scope, job_type_names
from jobs.services import (
    CANCELLABLE,
    RETRYABLE,
    JobStateError,
    job_cancel,
    job_enqueue,
    job_retry,
    job_run_now,
    jobs_cancel_matching,
    jobs_delete_finished_matching,
    jobs_finished_before,
    jobs_retry_matching,
)

if TYPE_CHECKING:
    from django.db.models import QuerySet

DEFAULT_DELETE_DAYS = 30


def error_messages(detail: Any, prefix: str = "") -> list[str]:
    """DRF error detail (nested dicts/lists) as flat sentences, nested keys named."""
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in error_messages(value, f"{prefix}{key}: ")]
    if isinstance(detail, list):
        return [m for value in detail for m in error_messages(value, prefix)]
    return [f"{prefix}{detail}"]


# --- Create ------------------------------------------------------------------------------


def creatable_job_types(request: HttpRequest) -> list[str]:
    """The job types this user may enqueue from the console: never internal ones (the system
    enqueues those); service-only ones for platform operators only."""
    operator = is_platform_operator(request.user)
    names = []
    for name in job_type_names():
        spec = get_job_type(name)
        if spec is None or spec.internal:
            continue
        if ORGANIZATION in spec.scopes or operator:
            names.append(name)
    return names


def payload_fields_text(job_type: str) -> str:
    """ "action (required: full, partial), prefix" — the type's payload fields, for the form's help."""
    spec = get_job_type(job_type)
    if spec is None or spec.payload is None:
        return "no payload"
    parts = []
    for name, field in spec.payload().fields.items():
        notes = ["required"] if field.required else []
        choices = getattr(field, "choices", None)
        if choices:
            notes.append(", ".join(str(c) for c in choices))
        parts.append(f"{name} ({'; '.join(notes)})" if notes else name)
    return ", ".join(parts)


class JobCreateForm(forms.ModelForm):
    """A new job: the payload is checked against the job type's schema before it is queued."""

    job_type = forms.ChoiceField(choices=[])
    priority_name = forms.ChoiceField(
        label="Priority",
        required=False,
        choices=[("", "The job type's default"), *((p.label, p.label) for p in JobPriority)],
    )
    payload = forms.JSONField(
        initial=dict,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 60, "class": "vLargeTextField"}),
        help_text="A JSON object, checked against the job type's payload schema.",
    )
    run_at = forms.SplitDateTimeField(
        required=False, widget=AdminSplitDateTime, help_text="Empty: now. The site's time zone (UTC)."
    )

    class Meta:
        model = BackgroundJob
        fields = ["organization", "max_retries", "idempotency_key"]

    def __init__(
        self, *args: Any, job_types: list[str] | None = None, platform_operator: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.platform_operator = platform_operator
        names = job_types if job_types is not None else job_type_names()
        job_type_field = cast(forms.ChoiceField, self.fields["job_type"])
        job_type_field.choices = [("", "---------"), *((n, n) for n in names)]
        self.fields["job_type"].help_text = format_html(
            "<details><summary>Payload fields of each type</summary><ul>{}</ul></details>",
            format_html_join("", "<li><code>{}</code>: {}</li>", ((n, payload_fields_text(n)) for n in names)),
        )
        self.fields["organization"].help_text = (
            "Empty: service-wide (platform operators only)." if platform_operator else "The job acts on its data only."
        )
        self.fields["organization"].required = not platform_operator

    def clean(self) -> dict[str, Any]:
        data = super().clean() or self.cleaned_data
        data["run_at"] = data.get("run_at") or timezone.now()
        spec = get_job_type(data.get("job_type") or "")
        if spec is None or "organization" in self.errors:
            return data
        organization = data.get("organization")
        scope = job_scope(organization.pk if organization else None)
        if not spec.allows(scope):
            where = "for an organization" if organization else "service-wide"
            self.add_error(
                "organization", f"{spec.name} cannot run {where} (it allows: {', '.join(sorted(spec.scopes))})."
            )
            return data
        try:
            data["payload"] = spec.validate_payload(data.get("payload"), scope=scope)
        except InvalidInput as exc:
            self.add_error("payload", error_messages(exc.errors.get("payload", exc.errors)))
        return data


def job_create(request: HttpRequest, form: JobCreateForm) -> tuple[BackgroundJob, bool]:
    data = form.cleaned_data
    return job_enqueue(
        organization=data.get("organization"),
        job_type=data["job_type"],
        payload=data["payload"],
        priority=data.get("priority_name") or None,
        max_retries=data["max_retries"],
        run_at=data["run_at"],
        idempotency_key=data.get("idempotency_key") or None,
        created_by=request.user.get_username(),
    )


# --- One job's action buttons ------------------------------------------------------------


@dataclass(frozen=True)
class JobAction:
    name: str
    label: str
    done: str  # past tense, for the message and the audit log
    service: Callable[..., BackgroundJob]
    applies: Callable[[BackgroundJob], bool]
    explain: str


JOB_ACTIONS = {
    a.name: a
    for a in [
        JobAction(
            "cancel",
            "Cancel",
            "cancelled",
            job_cancel,
            lambda j: j.status in CANCELLABLE,
            "A queued job will not run; a running one stops at its next progress check.",
        ),
        JobAction(
            "retry",
            "Retry",
            "queued again",
            job_retry,
            lambda j: j.status in RETRYABLE,
            "The job is queued again, due now, with its retries reset.",
        ),
        JobAction(
            "run_now",
            "Run now",
            "made due now",
            job_run_now,
            lambda j: j.status == JobStatus.QUEUED and j.available_at > timezone.now(),
            "The job skips its wait (run at, or retry back-off) and is due now.",
        ),
    ]
}


def job_can_be_deleted(job: BackgroundJob) -> bool:
    # A running job's worker still writes to it.
    return job.status != JobStatus.PROCESSING


def job_actions_available(job: BackgroundJob) -> list[JobAction]:
    return [a for a in JOB_ACTIONS.values() if a.applies(job)]


def job_action_view(modeladmin: admin.ModelAdmin, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
    spec = JOB_ACTIONS.get(action)
    if spec is None:
        raise Http404(f"No job action {action!r}.")
    if not modeladmin.has_change_permission(request):
        raise PermissionDenied
    job = modeladmin.get_object(request, unquote(object_id))
    if job is None:
        raise Http404("No such job.")
    change_url = reverse("admin:jobs_backgroundjob_change", args=[quote(job.pk)])
    if not spec.applies(job):
        modeladmin.message_user(
            request, f"Job {job.pk} is {job.status}: “{spec.label}” does not apply to it.", messages.WARNING
        )
        return HttpResponseRedirect(change_url)
    if request.method == "POST":
        try:
            spec.service(job=job, by=request.user.get_username())
        except JobStateError as exc:
            modeladmin.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(change_url)
        audit_log(request, job, f"Admin action: {spec.done}.")
        modeladmin.message_user(request, f"Job {job.pk} {spec.done}.", messages.SUCCESS)
        return HttpResponseRedirect(change_url)
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": f"{spec.label} job {job.pk}?",
        "job": job,
        "action": spec,
        "change_url": change_url,
    }
    return TemplateResponse(request, "admin/jobs/backgroundjob/action_confirmation.html", context)


# --- Bulk, by filter ---------------------------------------------------------------------


@dataclass(frozen=True)
class BulkOperation:
    name: str
    title: str  # "Retry every failed or cancelled job matching this filter"
    button: str
    permission: str  # the ModelAdmin permission it needs: "change" or "delete"
    narrow: Callable[["QuerySet[BackgroundJob]", int], "QuerySet[BackgroundJob]"]
    run: Callable[["QuerySet[BackgroundJob]", str, int], int]
    done: str
    with_days: bool = False


BULK_OPERATIONS = {
    op.name: op
    for op in [
        BulkOperation(
            "retry",
            "Retry every failed or cancelled job matching this filter",
            "Yes, retry them",
            "change",
            lambda qs, days: qs.filter(status__in=RETRYABLE),
            lambda qs, by, days: jobs_retry_matching(queryset=qs, by=by),
            "queued again",
        ),
        BulkOperation(
            "cancel",
            "Cancel every queued job matching this filter",
            "Yes, cancel them",
            "change",
            lambda qs, days: qs.filter(status=JobStatus.QUEUED),
            lambda qs, by, days: jobs_cancel_matching(queryset=qs, by=by),
            "cancelled",
        ),
        BulkOperation(
            "delete_finished",
            "Delete finished jobs matching this filter older than N days",
            "Yes, delete them",
            "delete",
            lambda qs, days: jobs_finished_before(qs, days=days),
            lambda qs, by, days: jobs_delete_finished_matching(queryset=qs, older_than_days=days, by=by),
            "deleted",
            with_days=True,
        ),
    ]
}
OWN_PARAMS = ("days", "p", "o", "_changelist_filters")


def _filter_params(request: HttpRequest) -> QueryDict:
    """The list's filter and search parameters from the request, without this page's own."""
    params = request.GET.copy()
    for name in OWN_PARAMS:
        params.pop(name, None)
    return params


def describe_filter(params: QueryDict) -> str:
    if not params:
        return "no filter (every job)"
    return ", ".join(f"{key}={value!r}" for key, values in sorted(params.lists()) for value in values)


def bulk_view(modeladmin: admin.ModelAdmin, request: HttpRequest, operation: str) -> HttpResponse:
    op = BULK_OPERATIONS.get(operation)
    if op is None:
        raise Http404(f"No bulk operation {operation!r}.")
    allowed = modeladmin.has_delete_permission if op.permission == "delete" else modeladmin.has_change_permission
    if not allowed(request):
        raise PermissionDenied
    params = _filter_params(request)
    days = DEFAULT_DELETE_DAYS
    if op.with_days:
        try:
            days = int(request.GET.get("days", DEFAULT_DELETE_DAYS))
            if days < 0:
                raise ValueError
        except ValueError:
            modeladmin.message_user(request, "Days must be a whole number, 0 or more.", messages.ERROR)
            days = DEFAULT_DELETE_DAYS

    # The same queryset the list shows for these parameters (filters, search, date drill-down).
    # The ChangeList reads request.GET; this page's own parameters would be taken for lookups.
    original_get = request.GET
    request.GET = params  # type: ignore[assignment]
    try:
        queryset = modeladmin.get_changelist_instance(request).get_queryset(request)
    finally:
        request.GET = original_get
    matching = op.narrow(queryset, days)
    list_url = reverse("admin:jobs_backgroundjob_changelist") + (f"?{params.urlencode()}" if params else "")
    filter_text = describe_filter(params)

    if request.method == "POST":
        count = op.run(matching, request.user.get_username(), days)
        days_text = f", finished more than {days} day(s) ago" if op.with_days else ""
        audit_log_rows(
            request,
            BackgroundJob,
            summary=f"{count} background job(s)",
            message=f"Bulk action by filter: {count} job(s) {op.done}{days_text}. Filter: {filter_text}.",
        )
        modeladmin.message_user(request, f"{count} job(s) {op.done}.", messages.SUCCESS)
        return HttpResponseRedirect(list_url)

    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": op.title.replace("N days", f"{days} days") if op.with_days else op.title,
        "operation": op,
        "count": matching.count(),
        "days": days,
        "filter_text": filter_text,
        "filter_params": params,
        "list_url": list_url,
        "finished_statuses": FINISHED_STATUSES,
    }
    return TemplateResponse(request, "admin/jobs/backgroundjob/bulk_confirmation.html", context)
