from notifications.models.settings import NotificationSettings

__all__ = ["NotificationSettings"]
