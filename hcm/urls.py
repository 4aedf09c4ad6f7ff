from django.contrib import admin
from django.urls import include, path, re_path
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from hcm.health import health

urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^health/?$", health, name="health"),
    re_path(r"^api/auth/token/?$", TokenObtainPairView.as_view(), name="token_obtain_pair"),
    re_path(r"^api/auth/token/refresh/?$", TokenRefreshView.as_view(), name="token_refresh"),
    path("", include("notifications.urls")),
    path("", include("jobs.urls")),
    path("api-auth/", include("rest_framework.urls")),
]

handler400 = "hcm.errors.json_400"
handler403 = "hcm.errors.json_403"
handler404 = "hcm.errors.json_404"
handler500 = "hcm.errors.json_500"
