"""People's side of notifications: preferences, the live stream, the notification center
page, sign-in and unsubscribe links. Included in hcm/urls.py before notifications.api.urls, so
`preferences`, `stream` and `stream-ticket` are not taken for a notification id."""

from django.contrib.auth import views as auth_views
from django.urls import path, re_path

from hcm.login_limits import login_rate_limited
from hcm.routers import ApiRouter, SingletonRouter
from notifications import pages
from notifications.api.preferences import PreferencesViewSet
from notifications.api.stream_tickets import StreamTicketViewSet
from notifications.stream.view import notification_stream

singletons = SingletonRouter()
singletons.register("api/notifications/preferences", PreferencesViewSet, basename="notification-preferences")
router = ApiRouter()
router.register("api/notifications/stream-ticket", StreamTicketViewSet, basename="notification-stream-ticket")

urlpatterns = [
    *singletons.urls,
    *router.urls,
    # A plain async Django view (Server-Sent Events), not DRF.
    re_path(r"^api/notifications/stream/?$", notification_stream, name="notification-stream"),
    # Sign-in for people (members and admins alike), separate from the admin's.
    # Sign-in attempts count against the same budgets as the admin's and the token endpoint's.
    path(
        "accounts/login/",
        login_rate_limited(
            auth_views.LoginView.as_view(
                template_name="notification_center/login.html", redirect_authenticated_user=True
            )
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(next_page="login"), name="accounts-logout"),
    path("notifications/", pages.notification_center, name="notification-center"),
    path("notifications/read-all/", pages.notification_read_all, name="notification-center-read-all"),
    path("notifications/preferences/", pages.preferences_save, name="notification-center-preferences"),
    path("notifications/unsubscribe/<str:token>", pages.unsubscribe, name="notifications-unsubscribe"),
    path("notifications/<str:id>/read/", pages.notification_read, name="notification-center-read"),
    path("notifications/<str:id>/delete/", pages.notification_remove, name="notification-center-delete"),
]
