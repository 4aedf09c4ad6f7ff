from hcm.routing import api_path
from notifications.views_events import NotificationEventView
from notifications.views_notifications import (
    NotificationContactView,
    NotificationDetailView,
    NotificationListView,
    NotificationReadAllView,
    NotificationReadView,
    NotificationStatsView,
    NotificationUnreadCountView,
)
from notifications.views_settings import NotificationSettingsTestEmailView, NotificationSettingsView

urlpatterns = [
    api_path("api/system/notification-settings", NotificationSettingsView.as_view(), name="notification-settings"),
    api_path(
        "api/system/notification-settings/test-email",
        NotificationSettingsTestEmailView.as_view(),
        name="notification-settings-test-email",
    ),
    # The notification center. Fixed paths come before <id> so they are not taken for ids.
    api_path("api/notifications", NotificationListView.as_view(), name="notifications"),
    api_path("api/notifications/unread/count", NotificationUnreadCountView.as_view(), name="notifications-unread"),
    api_path("api/notifications/stats", NotificationStatsView.as_view(), name="notifications-stats"),
    api_path("api/notifications/read-all", NotificationReadAllView.as_view(), name="notifications-read-all"),
    api_path("api/notifications/contact", NotificationContactView.as_view(), name="notifications-contact"),
    api_path("api/notifications/<id>/read", NotificationReadView.as_view(), name="notification-read"),
    api_path("api/notifications/<id>", NotificationDetailView.as_view(), name="notification-detail"),
    api_path("api/system/notification-events", NotificationEventView.as_view(), name="notification-events"),
]
