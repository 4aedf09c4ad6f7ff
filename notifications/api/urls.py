"""The notifications app's API: its ViewSets on routers (paths answer with and without '/')."""

from hcm.routers import ApiRouter, SingletonRouter
from notifications.api.center_views import NotificationContactViewSet, NotificationViewSet
from notifications.api.event_views import NotificationEventViewSet
from notifications.api.settings_views import NotificationSettingsViewSet

# One object per caller: the organization's settings, the user's own contact.
singletons = SingletonRouter()
singletons.register("api/system/notification-settings", NotificationSettingsViewSet, basename="notification-settings")
singletons.register("api/notifications/contact", NotificationContactViewSet, basename="notification-contact")

router = ApiRouter()
router.register("api/system/notification-events", NotificationEventViewSet, basename="notification-event")
router.register("api/notifications", NotificationViewSet, basename="notification")

# The singletons first: "contact" is not a notification id.
urlpatterns = singletons.urls + router.urls
