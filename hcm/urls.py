from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from hcm.auth_views import LogoutView, TokenObtainView, TokenRotateView
from hcm.favicon import favicon
from hcm.health import health
from hcm.home import api_index, home
from hcm.login_limits import login_rate_limited
from hcm.metrics import metrics_view
from jobs.admin_dashboard import dashboard_view
from jobs.admin_pauses import dashboard_pause_view
from notifications.admin_test_email import notification_settings_test_email_view

admin.autodiscover()  # settings use SimpleAdminConfig: admin modules load with the URLs

urlpatterns = [
    path("", home, name="home"),
    re_path(r"^api/?$", api_index, name="api-index"),
    # OpenAPI schema and Swagger UI (public; static files from drf-spectacular-sidecar).
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Operator console pages outside the ModelAdmins (before "admin/", whose catch-all would match).
    path("admin/jobs/dashboard/", admin.site.admin_view(dashboard_view), name="jobs-dashboard"),
    path("admin/jobs/dashboard/pause/", admin.site.admin_view(dashboard_pause_view), name="jobs-dashboard-pause"),
    path(
        "admin/notifications/notificationsettings/<path:object_id>/test-email/",
        admin.site.admin_view(notification_settings_test_email_view),
        name="notifications-settings-test-email",
    ),
    # The login forms, limited like the token endpoint (before the includes that also route them).
    path("admin/login/", login_rate_limited(admin.site.login), name="admin-login"),
    path(
        "api-auth/login/",
        login_rate_limited(LoginView.as_view(template_name="rest_framework/login.html")),
        name="api-auth-login",
    ),
    path("admin/", admin.site.urls),
    re_path(r"^health/?$", health, name="health"),
    path("favicon.ico", favicon, name="favicon"),
    re_path(r"^metrics/?$", metrics_view, name="metrics"),
    re_path(r"^api/auth/token/?$", TokenObtainView.as_view(), name="token_obtain_pair"),
    re_path(r"^api/auth/token/refresh/?$", TokenRotateView.as_view(), name="token_refresh"),
    re_path(r"^api/auth/logout/?$", LogoutView.as_view(), name="logout"),
    # Before notifications.api.urls: its /api/notifications/{id} would take "preferences" and "stream".
    path("", include("notifications.people_urls")),
    path("", include("notifications.api.urls")),
    path("", include("jobs.api.urls")),
    path("api-auth/", include("rest_framework.urls")),
]

handler400 = "hcm.errors.json_400"
handler403 = "hcm.errors.json_403"
handler404 = "hcm.errors.json_404"
handler500 = "hcm.errors.json_500"
