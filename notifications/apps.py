from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every channel module registers its Channel class (notifications.channels.base).
        from notifications.channels.base import channels

        channels()
