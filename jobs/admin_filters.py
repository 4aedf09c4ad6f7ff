"""The job list's own filters: what finished recently, and what runs past its timeout."""

from datetime import timedelta

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from jobs.models import BackgroundJob, JobStatus
from jobs.registry import get_job_type, job_type_names

RECENT_WINDOWS = {
    "failed_1h": (JobStatus.FAILED, timedelta(hours=1), "Failed in the last hour"),
    "failed_24h": (JobStatus.FAILED, timedelta(days=1), "Failed in the last day"),
    "completed_1h": (JobStatus.COMPLETED, timedelta(hours=1), "Completed in the last hour"),
}


def recently_finished(queryset: QuerySet[BackgroundJob], key: str) -> QuerySet[BackgroundJob]:
    status, window, _ = RECENT_WINDOWS[key]
    return queryset.filter(status=status, completed_at__gte=timezone.now() - window)


def overdue_q() -> Q:
    """Processing jobs started longer ago than their type's timeout (unknown types: never)."""
    now = timezone.now()
    q = Q(pk__in=[])
    for name in job_type_names():
        timeout = get_job_type(name).timeout  # type: ignore[union-attr]
        q |= Q(job_type=name, started_at__lt=now - timedelta(seconds=timeout))
    return Q(status=JobStatus.PROCESSING) & q


class RecentlyFinishedFilter(admin.SimpleListFilter):
    title = "finished recently"
    parameter_name = "recent"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(key, label) for key, (_, _, label) in RECENT_WINDOWS.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[BackgroundJob]) -> QuerySet[BackgroundJob]:
        value = self.value()
        if value is not None and value in RECENT_WINDOWS:
            return recently_finished(queryset, value)
        return queryset


class OverdueFilter(admin.SimpleListFilter):
    title = "running time"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("yes", "Running longer than its timeout")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[BackgroundJob]) -> QuerySet[BackgroundJob]:
        if self.value() == "yes":
            return queryset.filter(overdue_q())
        return queryset


class JobTypeFilter(admin.SimpleListFilter):
    """The registered job types, from the registry: no SELECT DISTINCT over the whole table."""

    title = "job type"
    parameter_name = "job_type__exact"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(name, name) for name in job_type_names()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[BackgroundJob]) -> QuerySet[BackgroundJob]:
        return queryset.filter(job_type=self.value()) if self.value() else queryset


def job_search_q(term: str) -> Q:
    """A job id or idempotency key, exactly (their b-tree indexes), or text in the payload or
    the error message (PostgreSQL: trigram indexes over UPPER(col::text), migration 0008)."""
    return Q(pk=term) | Q(idempotency_key=term) | Q(payload__icontains=term) | Q(error_message__icontains=term)
