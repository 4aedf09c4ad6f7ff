from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer, TokenRefreshSerializer
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from hcm.health import health
from hcm.metrics import metrics_view
from hcm.openapi import error_response
from jobs.admin_dashboard import dashboard_view
from notifications.admin_test_email import notification_settings_test_email_view

# simplejwt's views, documented where they are routed.
token_obtain = extend_schema_view(
    post=extend_schema(
        summary="Get an access and a refresh token",
        responses={
            200: TokenObtainPairSerializer,
            401: error_response(401, "Wrong username or password, or inactive."),
        },
    )
)(TokenObtainPairView)
token_refresh = extend_schema_view(
    post=extend_schema(
        summary="Get a new access token",
        responses={200: TokenRefreshSerializer, 401: error_response(401, "Invalid or expired refresh token.")},
    )
)(TokenRefreshView)

admin.autodiscover()  # settings use SimpleAdminConfig: admin modules load with the URLs

urlpatterns = [
    # OpenAPI schema and Swagger UI (public; static files from drf-spectacular-sidecar).
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="swagger-ui"),
    # Operator console pages outside the ModelAdmins (before "admin/", whose catch-all would match).
    path("admin/jobs/dashboard/", admin.site.admin_view(dashboard_view), name="jobs-dashboard"),
    path(
        "admin/notifications/notificationsettings/<path:object_id>/test-email/",
        admin.site.admin_view(notification_settings_test_email_view),
        name="notifications-settings-test-email",
    ),
    path("admin/", admin.site.urls),
    re_path(r"^health/?$", health, name="health"),
    re_path(r"^metrics/?$", metrics_view, name="metrics"),
    re_path(r"^api/auth/token/?$", token_obtain.as_view(), name="token_obtain_pair"),
    re_path(r"^api/auth/token/refresh/?$", token_refresh.as_view(), name="token_refresh"),
    path("", include("notifications.api.urls")),
    path("", include("jobs.api.urls")),
    path("api-auth/", include("rest_framework.urls")),
]

handler400 = "hcm.errors.json_400"
handler403 = "hcm.errors.json_403"
handler404 = "hcm.errors.json_404"
handler500 = "hcm.errors.json_500"
