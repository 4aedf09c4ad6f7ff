from hcm.routing import api_path
from notifications.views_settings import NotificationSettingsTestEmailView, NotificationSettingsView

urlpatterns = [
    api_path("api/system/notification-settings", NotificationSettingsView.as_view(), name="notification-settings"),
    api_path(
        "api/system/notification-settings/test-email",
        NotificationSettingsTestEmailView.as_view(),
        name="notification-settings-test-email",
    ),
]
