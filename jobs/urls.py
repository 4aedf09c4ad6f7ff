from hcm.routing import api_path
from jobs.views import (
    BackgroundJobCancelView,
    BackgroundJobDetailView,
    BackgroundJobListView,
    BackgroundJobRetryView,
    BackgroundJobStatsView,
    JobTypePauseView,
    JobTypeResumeView,
)

BASE = "api/system/background-jobs"

# The fixed paths come before <job_id>, which would otherwise match "stats".
urlpatterns = [
    api_path(BASE, BackgroundJobListView.as_view(), name="background-jobs"),
    api_path(f"{BASE}/stats", BackgroundJobStatsView.as_view(), name="background-jobs-stats"),
    api_path(f"{BASE}/pause", JobTypePauseView.as_view(), name="background-jobs-pause"),
    api_path(f"{BASE}/resume", JobTypeResumeView.as_view(), name="background-jobs-resume"),
    api_path(f"{BASE}/<job_id>", BackgroundJobDetailView.as_view(), name="background-job"),
    api_path(f"{BASE}/<job_id>/cancel", BackgroundJobCancelView.as_view(), name="background-job-cancel"),
    api_path(f"{BASE}/<job_id>/retry", BackgroundJobRetryView.as_view(), name="background-job-retry"),
]

# --- Recurring schedules (jobs/schedule_views.py) ---------------------------------------
from jobs.schedule_views import JobScheduleDetailView, JobScheduleListView  # noqa: E402

SCHEDULES = "api/system/job-schedules"

urlpatterns += [
    api_path(SCHEDULES, JobScheduleListView.as_view(), name="job-schedules"),
    api_path(f"{SCHEDULES}/<schedule_id>", JobScheduleDetailView.as_view(), name="job-schedule"),
]
