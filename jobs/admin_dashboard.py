"""The operator dashboard page in the admin (/admin/jobs/dashboard/): figures and SVG charts,
refreshed in place every few seconds (hcm/static/hcm/console.js), and pause / resume per job
type (posted to jobs/admin_pauses.py).

Registered in hcm/urls.py through admin.site.admin_view (staff only, admin login).
"""

from dataclasses import dataclass

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.safestring import SafeString

from hcm.models import Organization
from jobs.admin import STATUS_COLORS
from jobs.admin_pauses import PauseRights, pausable_types
from jobs.dashboard import RECENT_FAILURES, Bucket, Dashboard, dashboard_get
from jobs.models import JobStatus
from jobs.svg_charts import Series, bar_chart

COMPLETED_COLOR = "#198754"
FAILED_COLOR = "#dc3545"
RATE_COLOR = "#b02a37"
REFRESH_SECONDS = 5


@dataclass(frozen=True)
class PeriodCharts:
    """Throughput and failure rate over one period (7 days by day, or 24 hours by hour)."""

    title: str
    throughput: SafeString
    failure_rate: SafeString
    completed: int
    failed: int

    @property
    def failure_rate_pct(self) -> float | None:
        finished = self.completed + self.failed
        return round(100 * self.failed / finished, 1) if finished else None


def _period(title: str, buckets: list[Bucket], label_format: str) -> PeriodCharts:
    labels = [b.start.strftime(label_format) for b in buckets]
    return PeriodCharts(
        title=title,
        throughput=bar_chart(
            title="Attempts finished",
            labels=labels,
            series=[
                Series("Completed", [b.completed for b in buckets], COMPLETED_COLOR),
                Series("Failed", [b.failed for b in buckets], FAILED_COLOR),
            ],
            empty_text="No attempts finished in this period",
        ),
        failure_rate=bar_chart(
            title="Failure rate",
            labels=labels,
            series=[
                Series(
                    "Failed %",
                    [None if b.failure_rate is None else round(100 * b.failure_rate, 1) for b in buckets],
                    RATE_COLOR,
                )
            ],
            y_max=100,
            y_suffix="%",
            whole_numbers=False,
            empty_text="No attempts finished in this period",
        ),
        completed=sum(b.completed for b in buckets),
        failed=sum(b.failed for b in buckets),
    )


def _status_chart(dashboard: Dashboard) -> SafeString:
    statuses = list(dashboard.by_status)
    return bar_chart(
        title="Jobs by status",
        labels=[JobStatus(s).label for s in statuses],
        series=[
            Series(
                "Jobs",
                [dashboard.by_status[s] for s in statuses],
                "#6c757d",
                colors=[STATUS_COLORS.get(s, "#6c757d") for s in statuses],
            )
        ],
        empty_text="No jobs yet",
        show_title=False,  # the section heading says it
    )


def dashboard_view(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("jobs.view_backgroundjob"):
        raise PermissionDenied
    dashboard = dashboard_get()
    rights = PauseRights.of(request.user)
    context = {
        **admin.site.each_context(request),
        "refresh_seconds": REFRESH_SECONDS,
        "recent_failures_limit": RECENT_FAILURES,
        "title": "Background jobs dashboard",
        "dashboard": dashboard,
        "status_rows": [(s, JobStatus(s).label, n) for s, n in dashboard.by_status.items()],
        "status_chart": _status_chart(dashboard),
        "periods": [
            _period("last 7 days", dashboard.daily, "%a %d"),
            _period("last 24 hours", dashboard.hourly, "%H:00"),
        ],
        "pause_rights": rights,
        "pausable_types": pausable_types(rights) if rights.pause or rights.resume else [],
        "organizations": Organization.objects.order_by("name") if rights.pause or rights.resume else [],
    }
    return TemplateResponse(request, "admin/jobs/dashboard.html", context)
