"""The list filters of /background-jobs and /job-schedules, declared once: django-filter
validates them (400 naming the parameter and its valid values) and drf-spectacular
documents them."""

from typing import Any

import django_filters
from django.db.models import QuerySet

from hcm.filters import StrictBooleanFilter
from jobs.models import BackgroundJob, JobPriority, JobSchedule, JobStatus
from jobs.registry import job_type_names, unknown_job_type_message


def _choices(values: list[str]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


def _invalid_choice(values: list[str]) -> dict[str, str]:
    return {"invalid_choice": f'"%(value)s" is not a valid choice. Valid choices: {", ".join(values)}.'}


class JobTypeFilter(django_filters.ChoiceFilter):
    """Any registered type (internal ones included: they are in an organization's list too);
    the valid names are read when a request filters, after every handler registered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, choices=lambda: _choices(job_type_names()), **kwargs)

    @property
    def field(self) -> Any:
        self.extra["error_messages"] = {"invalid_choice": unknown_job_type_message("%(value)s", job_type_names())}
        return super().field


class BackgroundJobFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=JobStatus.choices, error_messages=_invalid_choice(JobStatus.values), help_text="Only this status."
    )
    job_type = JobTypeFilter(help_text="Only this job type.")
    priority = django_filters.ChoiceFilter(
        choices=_choices(JobPriority.labels),
        method="filter_priority",
        error_messages=_invalid_choice(JobPriority.labels),
        help_text="Only this priority.",
    )

    class Meta:
        model = BackgroundJob
        fields = ["status", "job_type", "priority"]

    def filter_priority(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(priority=JobPriority.from_name(value))


SCHEDULE_SCOPES = ["organization", "service"]


class JobScheduleFilter(django_filters.FilterSet):
    job_type = django_filters.CharFilter(max_length=100, help_text="Only this job type.")
    enabled = StrictBooleanFilter(help_text="true: enabled ones only; false: disabled ones only.")
    scope = django_filters.ChoiceFilter(
        choices=_choices(SCHEDULE_SCOPES),
        method="filter_scope",
        error_messages=_invalid_choice(SCHEDULE_SCOPES),
        help_text='"organization": yours; "service": the service-wide ones.',
    )

    class Meta:
        model = JobSchedule
        fields = ["job_type", "enabled", "scope"]

    def filter_scope(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(organization__isnull=value == "service")
