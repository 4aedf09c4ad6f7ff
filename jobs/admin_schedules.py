"""The operators' view of recurring schedules, service-wide maintenance included.

Saving, enabling, disabling and "run now" go through jobs.schedules, which validates the
job type, payload, cron expression and timezone (the same rules as the API) and keeps
next_run_at right; the columns the scheduler owns are read-only.
"""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import quote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone as dj_timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from hcm.exceptions import InvalidInput
from hcm.permissions import is_platform_operator
from jobs.cron import next_tick, timezone_get
from jobs.models import JobPriority, JobSchedule
from jobs.registry import job_type_names
from jobs.schedules import (
    EDITABLE_FIELDS,
    job_schedule_create,
    job_schedule_run_now,
    job_schedule_update,
    job_schedule_validate,
)

UPCOMING_SHOWN = 5


def _messages(detail: Any, prefix: str = "") -> list[str]:
    """DRF error detail (nested dicts/lists) as flat sentences, nested keys named."""
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _messages(value, f"{prefix}{key}: ")]
    if isinstance(detail, list):
        return [m for value in detail for m in _messages(value, prefix)]
    return [f"{prefix}{detail}"]


class JobScheduleForm(forms.ModelForm):
    job_type = forms.ChoiceField(choices=[])

    class Meta:
        model = JobSchedule
        fields = ["name", "organization", "job_type", "payload", "priority", "cron_expression", "timezone", "enabled"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = job_type_names()
        current = self.instance.job_type if self.instance.pk else None
        if current and current not in names:
            names = [current, *names]  # shown so the form opens; saving asks for a registered one
        job_type = self.fields["job_type"]
        assert isinstance(job_type, forms.ChoiceField)  # declared above
        job_type.choices = [(name, name) for name in names]
        if "organization" in self.fields:
            self.fields["organization"].help_text = "Empty: service-wide (maintenance)."

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        priority = data.get("priority")
        try:
            clean = job_schedule_validate(
                job_type=data.get("job_type", ""),
                payload=data.get("payload"),
                cron_expression=data.get("cron_expression", ""),
                timezone=data.get("timezone", ""),
                priority=None if priority in (None, "") else JobPriority(int(priority)).label,
                organization_id=data["organization"].pk if data.get("organization") else None,
            )
        except InvalidInput as exc:
            for field, detail in exc.errors.items():
                self.add_error(field if field in self.fields else None, _messages(detail))
            return data
        data.update(payload=clean["payload"], cron_expression=clean["cron_expression"])
        return data


@admin.register(JobSchedule)
class JobScheduleAdmin(admin.ModelAdmin):
    form = JobScheduleForm
    list_display = [
        "name",
        "scope",
        "job_type",
        "cron_expression",
        "timezone",
        "enabled",
        "next_run_at",
        "last_run_at",
        "last_job",
    ]
    list_filter = ["enabled", "job_type", ("organization", admin.EmptyFieldListFilter), "organization"]
    list_select_related = ["organization"]
    search_fields = ["name", "job_type", "=id"]
    ordering = ["name"]
    actions = ["enable_schedules", "disable_schedules", "run_schedules_now"]
    scheduler_fields = ("next_run_at", "upcoming", "last_run_at", "last_job")
    audit_fields = ("id", "created_at", "created_by", "updated_at", "updated_by")
    fieldsets = [
        (None, {"fields": ["name", "organization", "enabled"]}),
        ("Job", {"fields": ["job_type", "payload", "priority"]}),
        ("When", {"fields": ["cron_expression", "timezone", *scheduler_fields]}),
        ("Audit", {"fields": audit_fields}),
    ]

    def get_readonly_fields(self, request: HttpRequest, obj: JobSchedule | None = None) -> list[str]:
        # The organization is part of the schedule's identity (and its jobs'): fixed once saved.
        return [*self.scheduler_fields, *self.audit_fields, *(["organization"] if obj else [])]

    @admin.display(description="Scope", ordering="organization__name")
    def scope(self, obj: JobSchedule) -> str:
        return str(obj.organization) if obj.organization_id else "service-wide"

    @admin.display(description="Last job")
    def last_job(self, obj: JobSchedule) -> SafeString | str:
        if not obj.last_job_id:
            return "—"
        try:
            url = reverse("admin:jobs_backgroundjob_change", args=[quote(obj.last_job_id)])
        except NoReverseMatch:
            return obj.last_job_id
        return format_html('<a href="{}">{}</a>', url, obj.last_job_id)

    @admin.display(description=f"Next {UPCOMING_SHOWN} ticks")
    def upcoming(self, obj: JobSchedule) -> SafeString | str:
        if not obj.pk or not obj.enabled:
            return "—"
        try:
            tz = timezone_get(obj.timezone)
            ticks, after = [], obj.next_run_at or dj_timezone.now()
            if obj.next_run_at:
                ticks.append(obj.next_run_at)
            while len(ticks) < UPCOMING_SHOWN:
                after = next_tick(obj.cron_expression, tz, after=after)
                ticks.append(after)
        except ValueError as exc:
            return f"cannot compute: {exc}"
        return format_html(
            "<ul style='margin:0'>{}</ul>",
            format_html_join("", "<li>{} ({})</li>", ((t.astimezone(tz).isoformat(), obj.timezone) for t in ticks)),
        )

    def has_change_permission(self, request: HttpRequest, obj: JobSchedule | None = None) -> bool:
        # Service-wide schedules act on what every organization shares: platform operators only.
        if obj is not None and obj.organization_id is None and not is_platform_operator(request.user):
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: JobSchedule | None = None) -> bool:
        if obj is not None and obj.organization_id is None and not is_platform_operator(request.user):
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request: HttpRequest, obj: JobSchedule, form: forms.ModelForm, change: bool) -> None:
        if form.cleaned_data.get("organization") is None and not is_platform_operator(request.user):
            raise PermissionDenied("A service-wide schedule is a platform operator's (hcm.operate_platform).")
        values = {field: form.cleaned_data[field] for field in EDITABLE_FIELDS}
        priority = values["priority"]
        values["priority"] = None if priority in (None, "") else JobPriority(int(priority)).label
        by = request.user.get_username()
        if change:
            changes = {field: values[field] for field in form.changed_data if field in EDITABLE_FIELDS}
            job_schedule_update(schedule=JobSchedule.objects.get(pk=obj.pk), changes=changes, updated_by=by)
        else:
            created = job_schedule_create(organization=form.cleaned_data["organization"], created_by=by, **values)
            obj.pk = created.pk
        obj.refresh_from_db()

    @admin.action(description="Enable selected schedules", permissions=["change"])
    def enable_schedules(self, request: HttpRequest, queryset: QuerySet[JobSchedule]) -> None:
        self._set_enabled(request, queryset, True)

    @admin.action(description="Disable selected schedules", permissions=["change"])
    def disable_schedules(self, request: HttpRequest, queryset: QuerySet[JobSchedule]) -> None:
        self._set_enabled(request, queryset, False)

    @admin.action(description="Run selected schedules now (once, outside their ticks)", permissions=["change"])
    def run_schedules_now(self, request: HttpRequest, queryset: QuerySet[JobSchedule]) -> None:
        queued, refused = [], []
        for schedule in queryset:
            try:
                job = job_schedule_run_now(schedule=schedule, by=request.user.get_username())
            except InvalidInput as exc:
                refused.append(f"{schedule.name}: {' '.join(_messages(exc.errors))}")
                continue
            self.log_change(request, schedule, f"Ran now: queued job {job.id}.")
            queued.append(job.id)
        if queued:
            self.message_user(request, f"Queued {len(queued)} job(s): {', '.join(queued)}.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not queued: " + "; ".join(refused), messages.ERROR)

    def _set_enabled(self, request: HttpRequest, queryset: QuerySet[JobSchedule], enabled: bool) -> None:
        done, refused = 0, []
        for schedule in queryset.filter(enabled=not enabled):
            try:
                job_schedule_update(
                    schedule=schedule, changes={"enabled": enabled}, updated_by=request.user.get_username()
                )
            except InvalidInput as exc:
                refused.append(f"{schedule.name}: {' '.join(_messages(exc.errors))}")
                continue
            self.log_change(request, schedule, "Enabled." if enabled else "Disabled.")
            done += 1
        word = "enabled" if enabled else "disabled"
        self.message_user(request, f"{done} schedule(s) {word}.", messages.SUCCESS)
        if refused:
            self.message_user(request, f"Not {word}: " + "; ".join(refused), messages.ERROR)
