"""`/` and `/api/`: where a new user lands (the admin's "View site" link, run.sh's URLs)."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

# The API's sections, in reading order: (name, path, what it holds). tests/firstrun checks
# that every path resolves, so a renamed route cannot leave a dead link here.
API_SECTIONS: list[tuple[str, str, str]] = [
    ("auth", "/api/auth/token", "POST username and password for a JWT pair; /api/auth/token/refresh renews it"),
    ("notification_settings", "/api/system/notification-settings", "your organization's channels and events"),
    ("notification_events", "/api/system/notification-events", "the event catalogue; POST an event to notify"),
    ("notifications", "/api/notifications", "your own notifications (the notification center)"),
    ("notification_contact", "/api/notifications/contact", "your phone number for SMS"),
    ("background_jobs", "/api/system/background-jobs", "queue, list, cancel and retry background jobs"),
    ("background_job_stats", "/api/system/background-jobs/stats", "queue depth, failure rates, workers"),
    ("job_schedules", "/api/system/job-schedules", "recurring jobs (cron)"),
]


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "hcm/home.html", {"sections": API_SECTIONS})


@require_GET
def api_index(request: HttpRequest) -> JsonResponse:
    """The API's sections with links, and where the full documentation is."""
    link = request.build_absolute_uri
    return JsonResponse(
        {
            "name": "HCM system settings API",
            "docs": link("/api/docs/"),
            "schema": link("/api/schema/"),
            "health": link("/health"),
            "authentication": "Authorization: Bearer <access> (POST /api/auth/token for one)",
            "sections": [
                {"name": name, "url": link(path), "description": description}
                for name, path, description in API_SECTIONS
            ],
        }
    )
